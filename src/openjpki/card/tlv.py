"""The BER-TLV of the 券面事項入力補助AP and 券面事項確認AP files (CARD.md "The other
applications").

Written by hand, deliberately: these files need length forms DER forbids (clients take the
``82 LL LL`` outer length of EF 0002 for granted, whatever the length) and private-class
two-byte tags (``DF 21``, ``FF 20``) inside offsets counted from the start of the EF, which
no ASN.1 library lays out for us. Reading back is done by the tests with asn1crypto, an
independent parser.
"""

from __future__ import annotations


def length(n: int, *, long3: bool = False) -> bytes:
    """A BER length: short form below 128, else ``81 LL`` or ``82 LL LL``; ``long3`` forces
    ``82 LL LL``."""
    if n < 0 or n > 0xFFFF:
        raise ValueError("TLV lengths here are 0..65535")
    if long3 or n > 0xFF:
        return b"\x82" + n.to_bytes(2, "big")
    if n >= 0x80:
        return b"\x81" + bytes((n,))
    return bytes((n,))


def tlv(tag: int, value: bytes, *, long3: bool = False) -> bytes:
    """One TLV; ``tag`` is one or two bytes (e.g. 0x04, 0xDF21, 0x7F21)."""
    t = tag.to_bytes(2 if tag > 0xFF else 1, "big")
    return t + length(len(value), long3=long3) + value


def with_offsets(outer: int, offsets_tag: int, items: list[tuple[int, bytes]]) -> bytes:
    """``outer 82 LL LL { offsets_tag <2-byte offsets of each item>, item TLVs… }``: each
    offset is where that item's tag starts, counted from the start of the EF."""
    tlvs = [tlv(tag, value) for tag, value in items]
    offsets_len = 2 * len(items)
    head = 2 + 3  # outer tag (2 bytes) and its 82 LL LL length
    pos = head + len(tlv(offsets_tag, bytes(offsets_len)))
    offsets = bytearray()
    for t in tlvs:
        offsets += pos.to_bytes(2, "big")
        pos += len(t)
    body = tlv(offsets_tag, bytes(offsets)) + b"".join(tlvs)
    return tlv(outer, body, long3=True)


def rsa_public_key(n: int, e: int) -> bytes:
    """An RSA public key as these files carry it: the exponent ``82 03 …`` then the modulus
    ``81 82 01 00 …`` (265 bytes for RSA-2048 with e = 65537)."""
    e_bytes = e.to_bytes((e.bit_length() + 7) // 8, "big")
    n_bytes = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return tlv(0x82, e_bytes) + tlv(0x81, n_bytes)


def total_length(header: bytes) -> int:
    """The whole length (tag, length, value) of the TLV whose header starts ``header``."""
    pos = 2 if header[0] & 0x1F == 0x1F else 1
    first = header[pos]
    if first < 0x80:
        return pos + 1 + first
    k = first & 0x7F
    if k == 0 or k > 2:
        raise ValueError("unsupported TLV length")
    return pos + 1 + k + int.from_bytes(header[pos + 1:pos + 1 + k], "big")


def parse(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """(tag, value, end) of the TLV at ``offset`` (used by the holder client)."""
    tag = data[offset]
    offset += 1
    if tag & 0x1F == 0x1F:
        tag = (tag << 8) | data[offset]
        offset += 1
    first = data[offset]
    offset += 1
    if first < 0x80:
        n = first
    else:
        k = first & 0x7F
        if k == 0 or k > 2:
            raise ValueError("unsupported TLV length")
        n = int.from_bytes(data[offset:offset + k], "big")
        offset += k
    if offset + n > len(data):
        raise ValueError("TLV runs past the data")
    return tag, data[offset:offset + n], offset + n


def children(value: bytes) -> dict[int, bytes]:
    """The TLVs directly inside a constructed value, by tag."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(value):
        if value[pos] in (0x00, 0xFF) and pos + 1 < len(value) and value[pos + 1] == 0x00:
            break  # filler
        tag, v, pos = parse(value, pos)
        out[tag] = v
    return out
