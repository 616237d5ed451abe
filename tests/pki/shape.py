"""The ASN.1 *shape* of a DER document: tags, OIDs and booleans in order, with string and
number values left out, extension values opened.  Two certificates with the same shape
differ only in values (names' text, keys, dates, serials), never in structure."""

from __future__ import annotations

from openjpki.pki import der

_NAMES = {0x0C: "UTF8String", 0x13: "PrintableString", 0x16: "IA5String", 0x17: "UTCTime",
          0x18: "GeneralizedTime", 0x02: "INTEGER", 0x05: "NULL", 0x0A: "ENUMERATED"}


def shape(data: bytes, start: int = 0, end: int | None = None) -> list:
    end = len(data) if end is None else end
    out: list = []
    for tag, _, cstart, cend in der.children(data, start, end):
        content = data[cstart:cend]
        if tag & 0x20:  # constructed
            out.append((f"{tag:#04x}", shape(data, cstart, cend)))
        elif tag == der.OID:
            out.append(("OID", _dotted(content)))
        elif tag == der.BOOLEAN:
            out.append(("BOOLEAN", content != b"\x00"))
        elif tag == der.OCTET_STRING:
            out.append(("OCTET STRING", _nested(content)))
        elif tag == der.BIT_STRING:
            # short bit strings are flags (keyUsage); long ones are keys and signatures
            out.append(("BIT STRING", content.hex() if len(content) <= 3 else f"{(len(content) - 1) * 8} bits"))
        else:
            out.append(_NAMES.get(tag, f"{tag:#04x}"))
    return out


def _nested(content: bytes):
    try:
        inner = shape(content)
    except (ValueError, IndexError):
        return f"{len(content)} octets"
    return inner if inner and content[:1] in (b"\x30", b"\x03", b"\x04", b"\x02") else f"{len(content)} octets"


def _dotted(content: bytes) -> str:
    arcs, value = [], 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(map(str, [first, arcs[0] - 40 * first, *arcs[1:]]))


def name_attributes(name_der: bytes) -> list[tuple[str, str]]:
    """(attribute OID, string type) of each RDN of a Name, in order."""
    out = []
    _, start, end = der.read_tlv(name_der)
    for _, _, rs, re_ in der.children(name_der, start, end):
        for _, _, as_, ae in der.children(name_der, rs, re_):
            (_, _, os_, oe), (vtag, _, _, _) = der.children(name_der, as_, ae)
            out.append((_dotted(name_der[os_:oe]), _NAMES.get(vtag, hex(vtag))))
    return out
