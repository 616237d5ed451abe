"""The roots against the real 2023 JPKI roots (PROFILES.md "Authorities")."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from openjpki.pki import Kind, ProfileOptions, make_root

from .helpers import REFERENCE, ROOT_START, openssl, write_pem
from .lint import lint_certificate
from .shape import name_attributes, shape

REAL = {Kind.SIGN: "sign_ca_2023.pem", Kind.AUTH: "auth_ca_2023.pem"}
CASES = [(kind, env) for kind in Kind for env in ("test", "production")]
ACCEPTED_LINT: set[tuple[str, str]] = set()  # pkilint findings of WARNING or worse we accept: none


def real_root(kind: Kind) -> x509.Certificate:
    return x509.load_pem_x509_certificate((REFERENCE / REAL[kind]).read_bytes())


def ext_list(cert: x509.Certificate) -> list[tuple[str, bool]]:
    return [(e.oid.dotted_string, e.critical) for e in cert.extensions]


def ext_value(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> bytes:
    return cert.extensions.get_extension_for_oid(oid).value.public_bytes()


@pytest.mark.interop
@pytest.mark.parametrize("kind,env", CASES)
def test_root_has_the_shape_of_the_real_2023_root(roots, kind, env):
    ours, real = roots[(kind, env)], real_root(kind)
    assert shape(ours.tbs_certificate_bytes) == shape(real.tbs_certificate_bytes)
    assert shape(ours.public_bytes(Encoding.DER)) == shape(
        real.public_bytes(Encoding.DER))


@pytest.mark.parametrize("kind,env", CASES)
def test_root_names_attribute_by_attribute(roots, kind, env):
    ours, real = roots[(kind, env)], real_root(kind)
    assert name_attributes(ours.subject.public_bytes()) == name_attributes(real.subject.public_bytes()) == [
        ("2.5.4.6", "PrintableString"), ("2.5.4.10", "UTF8String"),
        ("2.5.4.11", "UTF8String"), ("2.5.4.11", "UTF8String"),
    ]
    assert ours.issuer == ours.subject
    san_ours = ours.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    san_real = real.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    (dir_ours,) = san_ours.get_values_for_type(x509.DirectoryName)
    (dir_real,) = san_real.get_values_for_type(x509.DirectoryName)
    assert name_attributes(dir_ours.public_bytes()) == name_attributes(dir_real.public_bytes())


@pytest.mark.parametrize("kind,env", CASES)
def test_root_extensions_order_and_criticality(roots, kind, env):
    ours, real = roots[(kind, env)], real_root(kind)
    assert ext_list(ours) == ext_list(real) == [
        ("2.5.29.15", True), ("2.5.29.17", False), ("2.5.29.19", True), ("2.5.29.31", False), ("2.5.29.14", False),
    ]
    for oid in (x509.ExtensionOID.KEY_USAGE, x509.ExtensionOID.BASIC_CONSTRAINTS):
        assert ext_value(ours, oid) == ext_value(real, oid)
    cdp = ours.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [dp.full_name for dp in cdp] == [[x509.DirectoryName(ours.subject)]]  # the ARL, as on the real roots
    ski = ours.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ours.public_key())


@pytest.mark.parametrize("kind", list(Kind))
def test_production_root_reproduces_the_real_names_exactly(roots, kind):
    ours, real = roots[(kind, "production")], real_root(kind)
    assert ours.subject.public_bytes() == real.subject.public_bytes()
    for oid in (x509.ExtensionOID.SUBJECT_ALTERNATIVE_NAME, x509.ExtensionOID.CRL_DISTRIBUTION_POINTS):
        assert ext_value(ours, oid) == ext_value(real, oid)


@pytest.mark.parametrize("kind", list(Kind))
def test_test_root_can_never_be_taken_for_a_real_one(roots, kind):
    ours, real = roots[(kind, "test")], real_root(kind)
    assert ours.subject != real.subject
    assert ours.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == "JPKI-TEST"
    real_values = {a.value for a in real.subject} - {"JP"}
    assert not real_values & {a.value for a in ours.subject}
    san = ours.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    (dir_name,) = san.get_values_for_type(x509.DirectoryName)
    assert all("テスト" in a.value or "サンドボックス" in a.value for a in dir_name if a.value != "JP")


@pytest.mark.parametrize("kind,env", CASES)
def test_root_key_algorithm_and_validity(roots, kind, env):
    root = roots[(kind, env)]
    key = root.public_key()
    assert isinstance(key, rsa.RSAPublicKey) and key.key_size == 2048 and key.public_numbers().e == 65537
    assert root.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSA_WITH_SHA256
    key.verify(root.signature, root.tbs_certificate_bytes, padding.PKCS1v15(), hashes.SHA256())
    assert root.not_valid_before_utc == ROOT_START
    # ten years, ending 23:59:59 JST the day before the anniversary, as on the real roots
    assert root.not_valid_after_utc == datetime(2033, 7, 15, 14, 59, 59, tzinfo=timezone.utc)
    assert root.not_valid_after_utc == real_root(kind).not_valid_after_utc
    assert 0 < root.serial_number < 2**159


@pytest.mark.parametrize("start,last_day", [
    (datetime(2024, 2, 29, 3, 0, tzinfo=timezone.utc), date(2034, 2, 28)),
    (datetime(2024, 2, 29, 15, 0, tzinfo=timezone.utc), date(2034, 2, 28)),  # 1 March in JST
    (datetime(2025, 12, 31, 15, 30, tzinfo=timezone.utc), date(2035, 12, 31)),  # 1 January JST
])
def test_root_validity_counts_in_japan_time(signers, start, last_day):
    root = make_root(Kind.AUTH, signers[Kind.AUTH], not_before=start)
    after = root.not_valid_after_utc
    assert (after.date(), after.hour, after.minute, after.second) == (last_day, 14, 59, 59)


@pytest.mark.interop
@pytest.mark.parametrize("kind,env", CASES)
def test_root_lints_clean(roots, kind, env):
    findings = lint_certificate(roots[(kind, env)].public_bytes(Encoding.DER))
    assert set(findings) <= ACCEPTED_LINT, findings


@pytest.mark.interop
def test_openssl_accepts_the_roots_as_trust_anchors(roots, tmp_path):
    for (kind, env), root in roots.items():
        path = write_pem(tmp_path / f"{kind.value}-{env}.pem", root)
        result = openssl("verify", "-attime", str(int(ROOT_START.timestamp()) + 3600), "-CAfile", str(path), str(path))
        assert result.returncode == 0, result.stderr


def test_make_root_refuses_what_the_profile_cannot_carry(keys, signers):
    with pytest.raises(ValueError, match="timezone-aware"):
        make_root(Kind.SIGN, signers[Kind.SIGN], not_before=datetime(2023, 7, 16))
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="RSA-2048"):
        make_root(Kind.SIGN, _Raw(small), not_before=ROOT_START)
    with pytest.raises(ValueError):
        ProfileOptions(environment="staging")  # type: ignore[arg-type]


class _Raw:
    """A Signer over any key, to show the profile check is in make_root."""

    def __init__(self, key):
        self._key = key

    def public_key(self):
        return self._key.public_key()

    def sign(self, data):
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
