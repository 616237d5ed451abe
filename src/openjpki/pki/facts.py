"""The basic four facts (基本4情報) of a SIGN certificate, to and from its subjectAltName.

SIGN certificates carry the holder's name, sex, date of birth and address as otherNames
``[0] { type-id, [0] EXPLICIT UTF8String }`` in the order .1, .4, .3, .5, .2, .6
(PROFILES.md, OIDs under 1.2.392.200149.8.5.5).

Character set rule (decision, documented here and in the report):
    The card's character set is taken to be JIS X 0208 (levels 1 and 2) plus JIS X 0201,
    i.e. what Python's ``shift_jis`` codec can encode, counting the cp932 spellings of the
    same cells (see :func:`in_card_charset`).  A character outside it (𠮷,
    髙, 﨑, other IBM/NEC extensions, anything beyond the BMP …) is *flagged* with ``1`` at
    its position in .2 (name) or .6 (address); others get ``0``.

    The real service writes a substitute character into .1/.5.  This implementation writes
    the exact original text (UTF-8 holds every character) and only flags positions, so that
    the facts read back identical, rare kanji included.  :func:`read_sign_facts` returns what
    a certificate says, together with its flags, so real certificates carrying substitutes
    read back as they are.

Date of birth: ``E`` + ``YYYYMMDD`` (Gregorian), E the era of that date: 1 Meiji (from
1868-01-25, Meiji 1-1-1 in the Gregorian calendar), 2 Taishō (from 1912-07-30), 3 Shōwa
(from 1926-12-25), 4 Heisei (from 1989-01-08), 5 Reiwa (from 2019-05-01); ``000000000`` when
the date of birth is unknown.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date

from cryptography import x509

from . import der

ARC = "1.2.392.200149.8.5.5"
OID_NAME = f"{ARC}.1"
OID_NAME_FLAGS = f"{ARC}.2"
OID_SEX = f"{ARC}.3"
OID_BIRTH = f"{ARC}.4"
OID_ADDRESS = f"{ARC}.5"
OID_ADDRESS_FLAGS = f"{ARC}.6"
SAN_ORDER = (OID_NAME, OID_BIRTH, OID_SEX, OID_ADDRESS, OID_NAME_FLAGS, OID_ADDRESS_FLAGS)

ADDRESS_MAX = 200
NAME_MAX = 200  # no published bound; keeps certificates reasonable
SEXES = {1: "male", 2: "female", 3: "unknown"}

# (era code, first day), newest first.
ERAS = (
    (5, date(2019, 5, 1)),  # 令和
    (4, date(1989, 1, 8)),  # 平成
    (3, date(1926, 12, 25)),  # 昭和
    (2, date(1912, 7, 30)),  # 大正
    (1, date(1868, 1, 25)),  # 明治
)
UNKNOWN_BIRTH = "000000000"


@dataclass(frozen=True)
class SignFacts:
    """The basic four facts as a SIGN certificate carries them.

    name: surname, U+3000 (ideographic space), given name.  address: from the prefecture
    on, no postcode, at most 200 characters.  birth_date: None when unknown.  sex: 1 male,
    2 female, 3 unknown.  The substitution flags are computed by the encoder (one ``0``/``1``
    per character) and filled in by :func:`read_sign_facts`; they take no part in equality.
    """

    name: str
    address: str
    birth_date: date | None
    sex: int
    name_substituted: str | None = field(default=None, compare=False)
    address_substituted: str | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        _check_text("name", self.name, NAME_MAX)
        _check_text("address", self.address, ADDRESS_MAX)
        if isinstance(self.sex, bool) or self.sex not in SEXES:
            raise ValueError("sex must be 1 (male), 2 (female) or 3 (unknown)")
        if self.birth_date is not None and not isinstance(self.birth_date, date):
            raise ValueError("birth_date must be a date or None")


def _check_text(what: str, value: str, bound: int) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    if len(value) > bound:
        raise ValueError(f"{what} has {len(value)} characters; at most {bound} are allowed")
    for ch in value:
        cat = unicodedata.category(ch)
        if cat in ("Cc", "Cs"):
            raise ValueError(f"{what} contains a control or surrogate character U+{ord(ch):04X}")


@lru_cache(maxsize=65536)
def in_card_charset(ch: str) -> bool:
    """True if ``ch`` is in JIS X 0208 or JIS X 0201.

    That is: encodable with Python's ``shift_jis`` codec, or a Windows (cp932) spelling of
    a JIS X 0208 code point (－ U+FF0D, ～ U+FF5E, ∥ U+2225, ￠ ￡ ￢ …: cp932 maps a few
    JIS X 0208 cells to other Unicode characters).  NEC and IBM extension cells (髙, 﨑, ①
    …) and characters beyond them (𠮷) are outside.
    """
    try:
        ch.encode("shift_jis")
        return True
    except UnicodeEncodeError:
        pass
    try:
        ch.encode("cp932").decode("shift_jis")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return False
    return True


def substitution_flags(text: str) -> str:
    """One ``0``/``1`` per character: ``1`` where the character is outside the card set."""
    try:
        text.encode("shift_jis")
        return "0" * len(text)  # the common case, at C speed
    except UnicodeEncodeError:
        pass
    return "".join("0" if in_card_charset(ch) else "1" for ch in text)


def era_of(day: date) -> int:
    for code, start in ERAS:
        if day >= start:
            return code
    raise ValueError(f"date of birth {day.isoformat()} is before the Meiji era")


def encode_birth(day: date | None) -> str:
    """``E`` + ``YYYYMMDD``; ``000000000`` for an unknown date."""
    if day is None:
        return UNKNOWN_BIRTH
    year = day.year
    return f"{era_of(day)}{_D2[year // 100]}{_D2[year % 100]}{_D2[day.month]}{_D2[day.day]}"


_D2 = [f"{i:02d}" for i in range(100)]  # table lookups: format specs cost more than the rest


def decode_birth(value: str) -> date | None:
    if len(value) != 9 or not value.isdigit():
        raise ValueError(f"date of birth {value!r} is not E+YYYYMMDD")
    if value[0] == "0":
        return None
    day = date(int(value[1:5]), int(value[5:7]), int(value[7:9]))
    return day


def _other_name(type_id: str, text: str) -> bytes:
    # GeneralName otherName: [0] IMPLICIT SEQUENCE { type-id, [0] EXPLICIT UTF8String }
    return der.tlv(0xA0, der.oid(type_id) + der.explicit(0, der.utf8(text)))


_OID_DER = {o: der.oid(o) for o in SAN_ORDER}
_LEN = [bytes((n,)) for n in range(128)]
_SEX_TEXT = {sex: str(sex).encode() for sex in SEXES}


def encode_sign_san(facts: SignFacts) -> bytes:
    """The subjectAltName extension value (GeneralNames DER) for ``facts``.

    Written in one go (this is the largest part of issuing a SIGN certificate besides the
    signature): each otherName ``[0] { type-id [0] { UTF8String } }`` gets its three headers
    from tables while it stays below 128 octets, as all but long addresses do.
    """
    values = {
        OID_NAME: facts.name.encode("utf-8"),
        OID_BIRTH: encode_birth(facts.birth_date).encode("ascii"),
        OID_SEX: _SEX_TEXT[facts.sex],
        OID_ADDRESS: facts.address.encode("utf-8"),
        OID_NAME_FLAGS: substitution_flags(facts.name).encode("ascii"),
        OID_ADDRESS_FLAGS: substitution_flags(facts.address).encode("ascii"),
    }
    parts: list[bytes] = []
    for type_id in SAN_ORDER:
        oid = _OID_DER[type_id]
        value = values[type_id]
        n = len(value)
        if len(oid) + n + 4 < 128:
            parts += (b"\xa0", _LEN[len(oid) + n + 4], oid, b"\xa0", _LEN[n + 2], b"\x0c", _LEN[n], value)
        else:
            parts.append(der.tlv(0xA0, oid + der.explicit(0, der.tlv(der.UTF8_STRING, value))))
    return der.seq(*parts)


def _utf8_of(value: bytes) -> str:
    """The text of an otherName value as cryptography gives it (the inner UTF8String TLV,
    or the [0] EXPLICIT wrapper around it, depending on version)."""
    tag, start, end = der.read_tlv(value)
    if tag == 0xA0:
        tag, start, end = der.read_tlv(value, start)
    if tag != der.UTF8_STRING:
        raise ValueError("SIGN otherName value is not a UTF8String")
    return value[start:end].decode("utf-8")


def read_sign_facts(cert: x509.Certificate) -> SignFacts:
    """The basic four facts of any SIGN certificate, with its substitution flags.

    Returns what the certificate says (R: PROFILES.md SIGN subjectAltName); raises ValueError
    when the certificate carries no SIGN facts.
    """
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        raise ValueError("not a SIGN certificate: no subjectAltName") from None
    found: dict[str, str] = {}
    for name in san:
        if isinstance(name, x509.OtherName) and name.type_id.dotted_string.startswith(ARC + "."):
            found[name.type_id.dotted_string] = _utf8_of(name.value)
    missing = [o for o in (OID_NAME, OID_SEX, OID_BIRTH, OID_ADDRESS) if o not in found]
    if missing:
        raise ValueError(f"not a SIGN certificate: otherNames {', '.join(missing)} missing")
    try:
        sex = int(found[OID_SEX])
    except ValueError:
        raise ValueError(f"sex {found[OID_SEX]!r} is not 1, 2 or 3") from None
    return SignFacts(
        name=found[OID_NAME],
        address=found[OID_ADDRESS],
        birth_date=decode_birth(found[OID_BIRTH]),
        sex=sex,
        name_substituted=found.get(OID_NAME_FLAGS),
        address_substituted=found.get(OID_ADDRESS_FLAGS),
    )
