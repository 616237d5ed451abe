"""pki.ocsp_lean: the RFC 5019 request recognised by its layout agrees with the ASN.1 parser
(asn1crypto) on every request of that shape, refuses every other, and the CertID of a
pre-produced response is the request's own, byte for byte."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from openjpki.pki import parse_ocsp_request
from openjpki.pki.ocsp import _encode_cert_id
from openjpki.pki.ocsp_lean import simple_cert_id, simple_request, simple_request_der

serials = st.integers(min_value=1, max_value=2**159 - 1)
issuers = st.binary(min_size=40, max_size=40)


@settings(deadline=None)
@given(issuers, serials)
def test_the_shape_round_trips_and_agrees_with_the_parser(issuer, serial):
    der = simple_request_der(issuer, serial)
    assert simple_request(der) == (issuer, serial)
    info = parse_ocsp_request(der)
    (cid,) = info.cert_ids
    assert info.nonce is None and cid.hash_algorithm == "sha1" and cid.serial == serial
    assert cid.issuer_name_hash + cid.issuer_key_hash == issuer
    # the response made ahead of the request carries the request's CertID exactly
    assert _encode_cert_id(simple_cert_id(issuer, serial)) == cid.der == der[8:]


@settings(max_examples=300, deadline=None)
@given(issuers, serials, st.data())
def test_any_change_is_refused_or_still_read_as_the_parser_reads_it(issuer, serial, data):
    der = bytearray(simple_request_der(issuer, serial))
    i = data.draw(st.integers(0, len(der) - 1))
    der[i] = data.draw(st.integers(0, 255))
    got = simple_request(bytes(der))
    if got is None:
        return
    cid = parse_ocsp_request(bytes(der)).cert_ids[0]  # what it accepts parses, and the same
    assert (cid.issuer_name_hash + cid.issuer_key_hash, cid.serial) == (got.issuer, got.serial)


def test_what_clients_send_is_the_shape_and_other_requests_are_not():
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "t")])
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    cert = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()) \
        .serial_number(0x7A0000000000000000000000000001).not_valid_before(now) \
        .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256())
    plain = ocsp.OCSPRequestBuilder().add_certificate(cert, cert, hashes.SHA1()).build()
    got = simple_request(plain.public_bytes(serialization.Encoding.DER))
    assert got is not None and got.serial == cert.serial_number
    assert got.issuer == plain.issuer_name_hash + plain.issuer_key_hash
    for builder in (ocsp.OCSPRequestBuilder().add_certificate(cert, cert, hashes.SHA256()),
                    ocsp.OCSPRequestBuilder().add_certificate(cert, cert, hashes.SHA1())
                    .add_extension(x509.OCSPNonce(os.urandom(16)), critical=False)):
        assert simple_request(builder.build().public_bytes(serialization.Encoding.DER)) is None
    for bad in (b"", b"\x30\x00", os.urandom(80), simple_request_der(os.urandom(40), 5)[:-1]):
        assert simple_request(bad) is None
    # zero, negative and non-minimal serials are not the shape (the parser judges them)
    base = bytearray(simple_request_der(os.urandom(40), 0x45))
    for serial_octet in (0x00, 0x80):
        changed = bytes(base[:-1]) + bytes((serial_octet,))
        assert simple_request(changed) is None
    # a serial with a needless leading zero octet
    issuer = os.urandom(40)
    minimal = simple_request_der(issuer, 0x45)
    assert simple_request(minimal) is not None
    padded = bytearray(minimal)
    for at in (1, 3, 5, 7, 9, 66):
        padded[at] += 1
    assert simple_request(bytes(padded[:67]) + b"\x00\x45") is None
