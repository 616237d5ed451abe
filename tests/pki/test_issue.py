"""End-entity certificates per profile (PROFILES.md "End-entity certificates")."""

from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtensionOID, NameOID

from openjpki.pki import (
    Kind,
    ProfileOptions,
    SignFacts,
    issue_certificate,
    kind_of,
    new_serial,
    partition_id,
    partition_of,
)

from .helpers import FACTS, NOW
from .lint import lint_certificate
from .shape import name_attributes

ENVS = ("test", "production")
POLICY = {
    (Kind.SIGN, "production"): "1.2.392.200149.8.5.1.1.20",
    (Kind.SIGN, "test"): "1.2.392.200149.8.5.1.0.20",
    (Kind.AUTH, "production"): "1.2.392.200149.8.5.1.3.30",
    (Kind.AUTH, "test"): "1.2.392.200149.8.5.1.2.30",
}
EXTENSIONS = {
    Kind.SIGN: [("2.5.29.15", True), ("2.5.29.32", False), ("2.5.29.17", False), ("2.5.29.18", False),
                ("2.5.29.31", False), ("2.5.29.35", False), ("2.5.29.14", False)],
    Kind.AUTH: [("2.5.29.15", True), ("2.5.29.32", False), ("2.5.29.18", False),
                ("2.5.29.31", False), ("2.5.29.35", False), ("2.5.29.14", False)],
}
URLS = ProfileOptions(crl_url_base="http://127.0.0.1:8000", ocsp_url="http://127.0.0.1:8000/ocsp")


def ext(cert, cls):
    return cert.extensions.get_extension_for_class(cls).value


@pytest.mark.parametrize("env", ENVS)
def test_sign_subject_names_the_issuing_municipality(issue, env):
    cert = issue(Kind.SIGN, env)
    assert [(a.oid, a.value) for a in cert.subject] == [
        (NameOID.COUNTRY_NAME, "JP"), (NameOID.LOCALITY_NAME, "東京都"),
        (NameOID.LOCALITY_NAME, "千代田区"), (NameOID.COMMON_NAME, "0123456789ABCDEF")]
    assert name_attributes(cert.subject.public_bytes())[0] == ("2.5.4.6", "PrintableString")


@pytest.mark.parametrize("env", ENVS)
def test_auth_subject_is_country_and_opaque_id_only(issue, env):
    cert = issue(Kind.AUTH, env, prefecture="東京都", municipality="千代田区")  # places are not carried
    assert [(a.oid, a.value) for a in cert.subject] == [(NameOID.COUNTRY_NAME, "JP"), (NameOID.COMMON_NAME, "0123456789ABCDEF")]
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)


@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("env", ENVS)
def test_profile_extensions_keys_and_dates(issue, roots, keys, kind, env):
    root = roots[(kind, env)]
    serial = new_serial()
    cert = issue(kind, env, serial=serial, last_valid_day=date(2030, 3, 31))
    assert cert.version is x509.Version.v3 and cert.serial_number == serial
    assert [(e.oid.dotted_string, e.critical) for e in cert.extensions] == EXTENSIONS[kind]
    ku = ext(cert, x509.KeyUsage)
    assert ku.digital_signature and ku.content_commitment is (kind is Kind.SIGN)
    assert not (ku.key_cert_sign or ku.crl_sign or ku.key_encipherment or ku.data_encipherment or ku.key_agreement)
    assert [p.policy_identifier.dotted_string for p in ext(cert, x509.CertificatePolicies)] == [POLICY[(kind, env)]]
    (ian,) = ext(cert, x509.IssuerAlternativeName).get_values_for_type(x509.DirectoryName)
    (root_alt,) = ext(root, x509.SubjectAlternativeName).get_values_for_type(x509.DirectoryName)
    assert list(ian.rdns) == list(root_alt.rdns)[:2]  # C=JP, O=公的個人認証サービス
    if env == "production":
        assert ian.rfc4514_string() == "O=公的個人認証サービス,C=JP"
    assert ext(cert, x509.AuthorityKeyIdentifier).key_identifier == ext(root, x509.SubjectKeyIdentifier).digest
    assert ext(cert, x509.SubjectKeyIdentifier) == x509.SubjectKeyIdentifier.from_public_key(keys[2].public_key())
    assert cert.issuer == root.subject
    assert cert.public_key() == keys[2].public_key()
    assert cert.not_valid_before_utc == NOW
    assert cert.not_valid_after_utc == datetime(2030, 3, 31, 14, 59, 59, tzinfo=timezone.utc)  # 23:59:59 JST
    assert cert.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
    root.public_key().verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
    assert kind_of(cert) is kind
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_oid(ExtensionOID.AUTHORITY_INFORMATION_ACCESS)


@pytest.mark.parametrize("env", ENVS)
def test_sign_distribution_point_is_the_municipality(issue, env):
    cert = issue(Kind.SIGN, env, prefecture="神奈川県", municipality="横浜市")
    (dp,) = ext(cert, x509.CRLDistributionPoints)
    (name,) = dp.full_name
    org = "JPKI" if env == "production" else "JPKI-TEST"
    assert name.value.rfc4514_string() == (
        f"CN=横浜市 CRLDP,OU=神奈川県,OU=CRL Distribution Points,OU={org} for digital signature,O={org},C=JP")
    assert partition_of(cert) == partition_id("神奈川県", "横浜市")


@pytest.mark.parametrize("env", ENVS)
def test_auth_distribution_point_is_the_authority(issue, env):
    cert = issue(Kind.AUTH, env)
    (dp,) = ext(cert, x509.CRLDistributionPoints)
    org = "JPKI" if env == "production" else "JPKI-TEST"
    assert [n.value.rfc4514_string() for n in dp.full_name] == [
        f"OU=CRL Distribution Points,OU={org} for user authentication,O={org},C=JP"]
    assert partition_of(cert) is None


@pytest.mark.parametrize("kind,url", [
    (Kind.SIGN, f"http://127.0.0.1:8000/crl/sign/{partition_id('東京都', '千代田区')}.crl"),
    (Kind.AUTH, "http://127.0.0.1:8000/crl/auth.crl"),
])
def test_sandbox_urls_are_added_next_to_the_faithful_names(issue, kind, url):
    cert = issue(kind, options=URLS)
    (dp,) = ext(cert, x509.CRLDistributionPoints)
    assert [type(n) for n in dp.full_name] == [x509.DirectoryName, x509.UniformResourceIdentifier]
    assert dp.full_name[1].value == url
    (ad,) = ext(cert, x509.AuthorityInformationAccess)
    assert ad.access_method == x509.AuthorityInformationAccessOID.OCSP
    assert ad.access_location.value == "http://127.0.0.1:8000/ocsp"


def test_partition_id_is_short_stable_and_url_safe():
    pid = partition_id("東京都", "千代田区")
    assert pid == "aaad959cd0c02dc6"  # fixed forever: it names published CRL files
    assert re.fullmatch(r"[0-9a-f]{16}", pid)
    assert partition_id("東京都", "千代田区") == pid
    assert len({partition_id(p, m) for p in ("東京都", "京都府") for m in ("中央区", "北区", "東京都")}) == 6


@pytest.mark.interop
@pytest.mark.parametrize("kind", list(Kind))
@pytest.mark.parametrize("env", ENVS)
@pytest.mark.parametrize("options", ["plain", "urls"])
def test_end_entity_certificates_lint_clean(issue, kind, env, options):
    opts = ProfileOptions(environment=env, **({} if options == "plain" else dict(
        crl_url_base=URLS.crl_url_base, ocsp_url=URLS.ocsp_url)))
    cert = issue(kind, env, options=opts)
    assert lint_certificate(cert.public_bytes(serialization.Encoding.DER)) == []


def test_public_key_may_be_given_as_subject_public_key_info(issue, keys):
    spki = keys[4].public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert issue(Kind.AUTH, public_key=spki).public_key() == keys[4].public_key()


SMALL_KEY = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()


@pytest.mark.parametrize("kind,overrides,match", [
    (Kind.SIGN, dict(prefecture=None), "prefecture and municipality"),
    (Kind.SIGN, dict(facts=None), "facts"),
    (Kind.AUTH, dict(facts=FACTS), "no personal facts"),
    (Kind.SIGN, dict(municipality=""), "municipality"),
    (Kind.SIGN, dict(municipality="長" * 60), "municipality"),
    (Kind.AUTH, dict(subject_id=""), "subject_id"),
    (Kind.AUTH, dict(subject_id="X" * 65), "subject_id"),
    (Kind.AUTH, dict(serial=0), "serial"),
    (Kind.AUTH, dict(serial=2**159), "serial"),
    (Kind.AUTH, dict(not_before=datetime(2025, 4, 1)), "timezone-aware"),
    (Kind.AUTH, dict(last_valid_day=date(2025, 3, 31)), "before not_before"),
    (Kind.AUTH, dict(last_valid_day=date(2034, 1, 1)), "issuer's validity"),
    (Kind.AUTH, dict(public_key=SMALL_KEY), "RSA-2048"),
    (Kind.AUTH, dict(public_key=b"\x30\x00"), "SubjectPublicKeyInfo"),
    (Kind.AUTH, dict(options=ProfileOptions(environment="production")), "test authority"),
])
def test_what_the_profile_cannot_carry_is_refused(issue, kind, overrides, match):
    with pytest.raises(ValueError, match=match):
        issue(kind, **overrides)


def test_an_authority_issues_only_its_own_kind(roots, signers, keys):
    with pytest.raises(ValueError, match="cannot be issued by the auth authority"):
        issue_certificate(Kind.SIGN, issuer=roots[(Kind.AUTH, "test")], signer=signers[Kind.AUTH],
                          public_key=keys[2].public_key(), serial=new_serial(), not_before=NOW,
                          last_valid_day=date(2030, 1, 1), subject_id="X", prefecture="東京都",
                          municipality="千代田区", facts=FACTS)


def test_issuing_is_not_mistaken_for_a_foreign_root(signers, keys):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Some CA")])
    foreign = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(keys[0].public_key())
               .serial_number(1).not_valid_before(NOW).not_valid_after(datetime(2035, 1, 1, tzinfo=timezone.utc))
               .sign(keys[0], hashes.SHA256()))
    with pytest.raises(ValueError, match="not a JPKI root"):
        issue_certificate(Kind.AUTH, issuer=foreign, signer=signers[Kind.SIGN], public_key=keys[2].public_key(),
                          serial=new_serial(), not_before=NOW, last_valid_day=date(2030, 1, 1), subject_id="X")


def test_sign_facts_without_a_sign_certificate_never_leak_into_auth(issue):
    cert = issue(Kind.AUTH)
    assert "髙橋" not in cert.public_bytes(serialization.Encoding.PEM).decode()
    assert isinstance(FACTS, SignFacts)
