"""The lean CRL index against cryptography's own CRL parser, on CRLs made by cryptography's
builder (not by our writer): same serials, dates and reasons; and the checks by key."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openjpki.pki.path import TrustAnchor
from openjpki.pki.verify_crl import CrlError, CrlSource, parse_crl
from openjpki.pki.verify_cert import CertInfo, integer_octets

from .conftest import NOW, R

REASONS = [None, R.key_compromise, R.affiliation_changed, R.superseded, R.cessation_of_operation,
           R.certificate_hold, R.unspecified]


def builder_crl(root, key, revoked, *, invalidity=False):
    b = (x509.CertificateRevocationListBuilder().issuer_name(root.subject).last_update(NOW)
         .next_update(NOW + timedelta(days=1))
         .add_extension(x509.CRLNumber(7), critical=False)
         .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root.public_key()), critical=False))
    for serial, reason, minutes in revoked:
        rb = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - timedelta(minutes=minutes))
        if reason is not None:
            rb = rb.add_extension(x509.CRLReason(reason), critical=False)
        if invalidity:
            rb = rb.add_extension(x509.InvalidityDate(NOW.replace(tzinfo=None) - timedelta(days=1)), critical=False)
        b = b.add_revoked_certificate(rb.build())
    return b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(revoked=st.lists(st.tuples(st.integers(min_value=1, max_value=2**159 - 1), st.sampled_from(REASONS),
                                  st.integers(min_value=0, max_value=10**6)),
                        max_size=30, unique_by=lambda t: t[0]),
       invalidity=st.booleans())
def test_index_agrees_with_cryptography(roots, keys, revoked, invalidity):
    der = builder_crl(roots["sign2"], keys["sign2"], revoked, invalidity=invalidity)
    parsed = parse_crl(der)
    theirs = x509.load_der_x509_crl(der)
    assert len(parsed) == len(theirs) == len(revoked)
    assert parsed.number == 7 and parsed.scope is None and parsed.usable
    assert parsed.this_update == theirs.last_update_utc and parsed.next_update == theirs.next_update_utc
    for entry in theirs:
        when, reason = parsed.entry(integer_octets(entry.serial_number))
        assert when == entry.revocation_date_utc
        try:
            expected = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.value
        except x509.ExtensionNotFound:
            expected = None
        assert reason == expected
    assert parsed.entry(integer_octets(2**160 + 1)) is None
    assert parsed.verified_by(TrustAnchor.of(roots["sign2"]))
    assert not parsed.verified_by(TrustAnchor.of(roots["sign1"]))  # same DN, other key


def test_our_writer_partition_crl_scope_is_the_municipality(make_crl, issue):
    parsed = parse_crl(make_crl("sign2", filler=5))
    cert = CertInfo.parse(issue())
    assert parsed.scope is not None and parsed.covers(cert.crldp_names)
    assert not parse_crl(make_crl("sign2", partition=("大阪府", "大阪市"))).covers(cert.crldp_names)
    assert parse_crl(make_crl("sign2", partition=None)).scope is None


def test_pem_crl_and_garbage(make_crl):
    der = make_crl("sign2", filler=3)
    pem = x509.load_der_x509_crl(der).public_bytes(serialization.Encoding.PEM)
    assert len(parse_crl(pem)) == 3
    for junk in (b"", b"\x30\x03\x02\x01", der[:-10], b"-----BEGIN X509 CRL-----\nzz\n-----END X509 CRL-----\n"):
        with pytest.raises(CrlError):
            parse_crl(junk)


def test_fetched_crl_from_the_certificate_distribution_point(roots, issue, make_crl, keys):
    from openjpki.pki import ProfileOptions
    from openjpki.pki.verify import Verifier
    from .conftest import AT, sign

    cert = issue(options=ProfileOptions(crl_url_base="http://crl.example.test"))
    crl = make_crl("sign2", [(cert, R.affiliation_changed, NOW)])
    asked = []

    def fetch(url, body, ctype):
        asked.append(url)
        return crl

    v = Verifier([roots["sign2"]], revocation=[CrlSource(fetch=fetch)])
    data = b"x"
    for _ in range(3):
        assert v.verify(data, sign(keys["card"], data), cert, at=AT).status == "revoked"
    assert len(asked) == 1 and asked[0].startswith("http://crl.example.test/crl/sign/")
