"""Relying-party validation by pyhanko-certvalidator, with our CRLs and OCSP responses and
revocation checking required."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import PathValidationError, RevokedError

from openjpki.pki import (
    CertStatus,
    Kind,
    OcspCertId,
    ProfileOptions,
    build_crl,
    build_ocsp_response,
    encode_revoked_entry,
    issuer_hashes,
    new_serial,
)

from .helpers import NOW, ONE_DAY

R = x509.ReasonFlags
URLS = dict(crl_url_base="http://127.0.0.1:9/none", ocsp_url="http://127.0.0.1:9/ocsp")


def asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def validate(cert, root, *, crls=(), ocsps=(), usage=frozenset({"digital_signature"})):
    context = ValidationContext(trust_roots=[asn1(root)], crls=list(crls), ocsps=list(ocsps),
                                revocation_mode="require", moment=NOW + timedelta(hours=1), allow_fetching=False)
    validator = CertificateValidator(asn1(cert), validation_context=context)
    return asyncio.run(validator.async_validate_usage(set(usage)))


@pytest.fixture(scope="module")
def sign_case(issue, roots, signers):
    good = issue(Kind.SIGN)
    revoked = issue(Kind.SIGN, key=3)
    held = issue(Kind.SIGN, key=4)
    entries = [encode_revoked_entry(revoked.serial_number, NOW - timedelta(minutes=3), R.affiliation_changed),
               encode_revoked_entry(held.serial_number, NOW - timedelta(minutes=3), R.certificate_hold)]
    entries += [encode_revoked_entry(new_serial(), NOW - timedelta(days=1), R.superseded) for _ in range(50)]
    root = roots[(Kind.SIGN, "test")]
    crls = {
        scope: build_crl(issuer=root, signer=signers[Kind.SIGN], entries=entries, crl_number=9, this_update=NOW,
                         next_update=NOW + ONE_DAY, partition=partition)
        for scope, partition in (("partition", ("東京都", "千代田区")), ("full", None))
    }
    return good, revoked, held, root, crls


@pytest.mark.interop
@pytest.mark.parametrize("scope", ["partition", "full"])
def test_good_sign_certificate_validates_with_revocation_required(sign_case, scope):
    good, _, _, root, crls = sign_case
    path = validate(good, root, crls=[crls[scope]], usage={"digital_signature", "non_repudiation"})
    assert path.leaf.serial_number == good.serial_number


@pytest.mark.interop
@pytest.mark.parametrize("scope", ["partition", "full"])
def test_revoked_and_held_sign_certificates_are_rejected(sign_case, scope):
    _, revoked, held, root, crls = sign_case
    for cert in (revoked, held):
        with pytest.raises(RevokedError):
            validate(cert, root, crls=[crls[scope]])


@pytest.mark.interop
def test_without_revocation_data_validation_fails_when_required(sign_case):
    good, _, _, root, _ = sign_case
    with pytest.raises(PathValidationError):
        validate(good, root)


@pytest.mark.interop
def test_another_municipalitys_partition_does_not_vouch_for_a_certificate(sign_case, roots, signers):
    good, _, _, root, _ = sign_case
    other = build_crl(issuer=root, signer=signers[Kind.SIGN], entries=[], crl_number=1, this_update=NOW,
                      next_update=NOW + ONE_DAY, partition=("大阪府", "大阪市"))
    with pytest.raises(PathValidationError):
        validate(good, root, crls=[other])


@pytest.mark.interop
def test_auth_certificate_with_sandbox_urls_validates_and_is_rejected_when_revoked(issue, roots, signers):
    root = roots[(Kind.AUTH, "test")]
    good = issue(Kind.AUTH, options=ProfileOptions(**URLS))
    revoked = issue(Kind.AUTH, key=3, options=ProfileOptions(**URLS))
    crl = build_crl(issuer=root, signer=signers[Kind.AUTH], crl_number=3, this_update=NOW, next_update=NOW + ONE_DAY,
                    entries=[encode_revoked_entry(revoked.serial_number, NOW - timedelta(minutes=1), R.key_compromise)])
    validate(good, root, crls=[crl])
    with pytest.raises(RevokedError):
        validate(revoked, root, crls=[crl])


@pytest.mark.interop
@pytest.mark.parametrize("state", ["good", "revoked"])
def test_ocsp_responses_signed_by_the_authority_are_accepted(issue, roots, signers, state):
    root = roots[(Kind.AUTH, "test")]
    cert = issue(Kind.AUTH, options=ProfileOptions(**URLS))
    cid = OcspCertId("sha1", *issuer_hashes(root)["sha1"], serial=cert.serial_number)
    status = CertStatus.good() if state == "good" else CertStatus.revoked(NOW - timedelta(hours=2), R.superseded)
    response = build_ocsp_response(issuer=root, signer=signers[Kind.AUTH], cert_id=cid, status=status,
                                   this_update=NOW, next_update=NOW + ONE_DAY, produced_at=NOW)
    if state == "good":
        validate(cert, root, ocsps=[response])
    else:
        with pytest.raises(RevokedError):
            validate(cert, root, ocsps=[response])


@pytest.mark.interop
def test_sign_certificate_with_sandbox_urls_and_its_partition_crl(issue, roots, signers):
    """The partition CRL names only the directoryName; the certificate's point names it and
    an HTTP URI: the shared directoryName is what makes the CRL apply."""
    root = roots[(Kind.SIGN, "test")]
    good = issue(Kind.SIGN, options=ProfileOptions(**URLS))
    revoked = issue(Kind.SIGN, key=3, options=ProfileOptions(**URLS))
    crl = build_crl(issuer=root, signer=signers[Kind.SIGN], crl_number=4, this_update=NOW, next_update=NOW + ONE_DAY,
                    entries=[encode_revoked_entry(revoked.serial_number, NOW, R.affiliation_changed)],
                    partition=("東京都", "千代田区"))
    validate(good, root, crls=[crl])
    with pytest.raises(RevokedError):
        validate(revoked, root, crls=[crl])
