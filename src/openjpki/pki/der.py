"""A small DER writer (and a minimal reader) for the hot paths of the authorities.

Why not cryptography's builders here: they sign with an in-process private key object only,
while the authorities sign through :class:`~openjpki.pki.signer.Signer` (a file key today, a
PKCS#11 HSM later).  And for speed: a CRL of a million entries is one ``b"".join`` of
precomputed entry encodings plus a few length headers, where a builder that takes entries one
by one is far slower.  Certificates, CRLs and OCSP responses are therefore assembled here as
bytes, then parsed back with cryptography (which validates the structure) before they leave
the package.
"""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache

# Universal tags
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
ENUMERATED = 0x0A
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31


def length(n: int) -> bytes:
    """The DER length octets for a content of ``n`` octets (definite form, shortest)."""
    if n < 0x100:
        return _LENGTHS[n]
    if n < 0x10000:
        return b"\x82" + n.to_bytes(2, "big")
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


_LENGTHS = [bytes((n,)) for n in range(0x80)] + [bytes((0x81, n)) for n in range(0x80, 0x100)]
# Two-octet headers (tag, short length) prebuilt: certificates are made of ~50 small TLVs.
_HEADERS = [bytes((tag, n)) for tag in range(256) for n in range(128)]
# SEQUENCE headers for every content shorter than 256 octets (short and 0x81 forms).
_SEQ_HEADERS = [b"\x30" + _LENGTHS[n] for n in range(0x100)]


def tlv(tag: int, content: bytes) -> bytes:
    n = len(content)
    if n < 0x80:
        return _HEADERS[(tag << 7) | n] + content
    return bytes((tag,)) + length(n) + content


def seq(*parts: bytes) -> bytes:
    content = b"".join(parts)
    n = len(content)
    if n < 0x100:
        return _SEQ_HEADERS[n] + content
    if n < 0x10000:
        return b"\x30\x82" + n.to_bytes(2, "big") + content
    return b"\x30" + length(n) + content


def set_of(*parts: bytes) -> bytes:
    """A SET OF, with its elements sorted as DER requires."""
    return tlv(SET, b"".join(sorted(parts)))


def integer(value: int) -> bytes:
    if value == 0:
        return b"\x02\x01\x00"
    size = (value.bit_length() + 8) // 8 if value > 0 else ((~value).bit_length() + 8) // 8
    return tlv(INTEGER, value.to_bytes(size, "big", signed=True))


def enumerated(value: int) -> bytes:
    return tlv(ENUMERATED, integer(value)[2:])


def boolean(value: bool) -> bytes:
    return b"\x01\x01\xff" if value else b"\x01\x01\x00"


def null() -> bytes:
    return b"\x05\x00"


@lru_cache(maxsize=4096)
def oid(dotted: str) -> bytes:
    arcs = [int(a) for a in dotted.split(".")]
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] >= 40):
        raise ValueError(f"bad object identifier {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return tlv(OID, bytes(out))


def octet_string(value: bytes) -> bytes:
    return tlv(OCTET_STRING, value)


def bit_string(value: bytes, unused_bits: int = 0) -> bytes:
    return tlv(BIT_STRING, bytes((unused_bits,)) + value)


def named_bits(bits: set[int] | frozenset[int]) -> bytes:
    """A NamedBitList BIT STRING (DER: trailing zero bits removed), bit 0 = most significant."""
    if not bits:
        return b"\x03\x01\x00"
    top = max(bits)
    nbytes = top // 8 + 1
    value = 0
    for b in bits:
        value |= 1 << (nbytes * 8 - 1 - b)
    unused = nbytes * 8 - 1 - top
    return bit_string(value.to_bytes(nbytes, "big"), unused)


def utf8(text: str) -> bytes:
    return tlv(UTF8_STRING, text.encode("utf-8"))


def printable(text: str) -> bytes:
    return tlv(PRINTABLE_STRING, text.encode("ascii"))


def ia5(text: str) -> bytes:
    return tlv(IA5_STRING, text.encode("ascii"))


def explicit(number: int, content: bytes) -> bytes:
    """``[number] EXPLICIT`` around an encoded value."""
    return tlv(0xA0 | number, content)


def implicit(number: int, encoded: bytes, constructed: bool) -> bytes:
    """Re-tag an encoded value as ``[number] IMPLICIT`` (single-octet tags and headers only)."""
    tag = (0xA0 if constructed else 0x80) | number
    return bytes((tag,)) + encoded[1:]


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is timezone.utc:
        return moment
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("times must be timezone-aware (time is injected, UTC or JST)")
    return moment.astimezone(timezone.utc)


# Table lookups rather than strftime or %-formatting: revocation entries are encoded by the
# million, and this is four times faster.
_TWO = [b"%02d" % i for i in range(100)]


def generalized_time(moment: datetime) -> bytes:
    u = _utc(moment)
    t = _TWO
    return b"".join((b"\x18\x0f", t[u.year // 100], t[u.year % 100], t[u.month], t[u.day], t[u.hour],
                     t[u.minute], t[u.second], b"Z"))


def x509_time(moment: datetime) -> bytes:
    """RFC 5280 Time: UTCTime through 2049, GeneralizedTime from 2050 (§4.1.2.5, §5.1.2.4)."""
    u = _utc(moment)
    if not 1950 <= u.year < 2050:
        return generalized_time(u)
    t = _TWO
    return b"".join((b"\x17\x0d", t[u.year % 100], t[u.month], t[u.day], t[u.hour], t[u.minute], t[u.second], b"Z"))


# --- reading -------------------------------------------------------------------------------


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Parse one TLV header at ``offset``: (tag, content start, content end).

    Raises ValueError on truncated or non-DER length forms.
    """
    try:
        tag = data[offset]
        first = data[offset + 1]
    except IndexError:
        raise ValueError("truncated DER") from None
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-octet tags are not used here")
    pos = offset + 2
    if first < 0x80:
        n = first
    elif first == 0x80 or first > 0x84:
        raise ValueError("indefinite or oversized DER length")
    else:
        k = first & 0x7F
        if pos + k > len(data):
            raise ValueError("truncated DER")
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    end = pos + n
    if end > len(data):
        raise ValueError("truncated DER")
    return tag, pos, end


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """The TLVs inside ``data[start:end]``: (tag, header start, content start, content end)."""
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = read_tlv(data, pos)
        if cend > end:
            raise ValueError("DER element overruns its container")
        out.append((tag, pos, cstart, cend))
        pos = cend
    return out


SHA256_WITH_RSA = seq(oid("1.2.840.113549.1.1.11"), null())
