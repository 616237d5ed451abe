"""APDUs (ISO/IEC 7816-4): parsing commands, building responses, the status words.

Short and extended lengths are both taken: the card's ATR announces extended Lc/Le (its
card-capabilities bytes ``73 C6 01 C0``), and open clients read whole EFs at once with
``00 B0 P1 P2 00 HH LL`` (Le 0000 = 65536). A command that is neither a well-formed short
nor a well-formed extended APDU is answered 6700. No GET RESPONSE: an answer of any length
goes back in one response APDU.
"""

from __future__ import annotations

from dataclasses import dataclass

# Status words (CARD.md "Commands"). 63Cx is built by tries_left_sw().
SW_OK = 0x9000
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_PIN_BLOCKED = 0x6984
SW_CONDITIONS_NOT_SATISFIED = 0x6985
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_OFFSET_PAST_END = 0x6B00
SW_INS_NOT_SUPPORTED = 0x6D00
SW_CLA_NOT_SUPPORTED = 0x6E00

SW_NAMES = {
    SW_OK: "ok",
    SW_WRONG_LENGTH: "wrong length",
    SW_SECURITY_NOT_SATISFIED: "security status not satisfied",
    SW_PIN_BLOCKED: "PIN blocked",
    SW_CONDITIONS_NOT_SATISFIED: "conditions of use not satisfied",
    SW_WRONG_DATA: "wrong data",
    SW_NOT_FOUND: "file or application not found",
    SW_WRONG_P1P2: "wrong P1/P2",
    SW_OFFSET_PAST_END: "offset past the end of the file",
    SW_INS_NOT_SUPPORTED: "instruction not supported",
    SW_CLA_NOT_SUPPORTED: "class not supported",
}


def tries_left_sw(tries: int) -> int:
    """63Cx, x = tries left (0–15)."""
    return 0x63C0 | max(0, min(tries, 15))


def sw_name(sw: int) -> str:
    if sw & 0xFFF0 == 0x63C0:
        return f"wrong PIN or tries query: {sw & 0xF} tries left"
    return SW_NAMES.get(sw, "unknown status")


class WrongLength(Exception):
    """The bytes are not a short or extended APDU (answered 6700)."""


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed command APDU. ``le`` is None when absent, else 1–256 for a short Le (00 means
    256) or 1–65536 for an extended one (0000 means 65536); ``extended`` tells which."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes
    le: int | None
    extended: bool = False

    @property
    def p1p2(self) -> int:
        return (self.p1 << 8) | self.p2

    @classmethod
    def parse(cls, apdu: bytes) -> "Command":
        """Cases 1–4 of ISO 7816-4 §5.1, short and extended forms."""
        n = len(apdu)
        if n < 4:
            raise WrongLength("shorter than a header")
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        if n == 4:  # case 1
            return cls(cla, ins, p1, p2, b"", None)
        p3 = apdu[4]
        if n == 5:  # case 2: Le only
            return cls(cla, ins, p1, p2, b"", p3 or 256)
        if p3 == 0:  # extended length: 00 then two length bytes
            return cls._parse_extended(apdu)
        if n == 5 + p3:  # case 3
            return cls(cla, ins, p1, p2, bytes(apdu[5:]), None)
        if n == 6 + p3:  # case 4
            return cls(cla, ins, p1, p2, bytes(apdu[5:5 + p3]), apdu[-1] or 256)
        raise WrongLength("Lc does not match the length")

    @classmethod
    def _parse_extended(cls, apdu: bytes) -> "Command":
        """Cases 2E (``00 Le Le``), 3E (``00 Lc Lc data``), 4E (``00 Lc Lc data Le Le``)."""
        n = len(apdu)
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        if n < 7:
            raise WrongLength("extended length field cut short")
        first = int.from_bytes(apdu[5:7], "big")
        if n == 7:  # case 2E
            return cls(cla, ins, p1, p2, b"", first or 65536, True)
        if first == 0:
            raise WrongLength("extended Lc of 0")
        if n == 7 + first:  # case 3E
            return cls(cla, ins, p1, p2, bytes(apdu[7:]), None, True)
        if n == 9 + first:  # case 4E
            le = int.from_bytes(apdu[-2:], "big") or 65536
            return cls(cla, ins, p1, p2, bytes(apdu[7:7 + first]), le, True)
        raise WrongLength("extended Lc does not match the length")


def build(cla: int, ins: int, p1: int, p2: int, data: bytes = b"", le: int | None = None,
          *, extended: bool = False) -> bytes:
    """Encode a command APDU (used by the host-side client and issuing terminal); short
    unless ``extended`` (Le up to 65536, data up to 65535 bytes)."""
    if extended:
        return _build_extended(cla, ins, p1, p2, data, le)
    if len(data) > 255:
        raise ValueError("short APDUs carry at most 255 bytes of data")
    out = bytearray((cla, ins, p1, p2))
    if data:
        out += bytes((len(data),)) + data
    if le is not None:
        if not 1 <= le <= 256:
            raise ValueError("Le must be 1..256")
        out.append(le & 0xFF)
    return bytes(out)


def _build_extended(cla: int, ins: int, p1: int, p2: int, data: bytes,
                    le: int | None) -> bytes:
    if len(data) > 65535:
        raise ValueError("extended APDUs carry at most 65535 bytes of data")
    out = bytearray((cla, ins, p1, p2))
    if data:
        out += b"\x00" + len(data).to_bytes(2, "big") + data
    if le is not None:
        if not 1 <= le <= 65536:
            raise ValueError("Le must be 1..65536")
        out += (b"" if data else b"\x00") + (le & 0xFFFF).to_bytes(2, "big")
    return bytes(out)


Result = tuple[int, bytes]  # (SW, response data) of a command handler


def ok(data: bytes = b"") -> Result:
    return SW_OK, data


def err(sw: int) -> Result:
    return sw, b""


def response(sw: int, data: bytes = b"") -> bytes:
    return data + sw.to_bytes(2, "big")


def split_response(rapdu: bytes) -> tuple[bytes, int]:
    """(data, SW) of a response APDU; a response shorter than 2 bytes is a transport error."""
    if len(rapdu) < 2:
        raise ValueError("response APDU shorter than a status word")
    return rapdu[:-2], int.from_bytes(rapdu[-2:], "big")
