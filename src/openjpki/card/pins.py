"""The card's own PIN-form check and retry limits.

The card enforces the forms of R1.3 itself, because a real card refuses a new PIN of the
wrong form whatever client sends it. This check is deliberately local: ``openjpki.card`` does
not import ``openjpki.rules`` (ARCHITECTURE.md); the counter procedures ask the rules package
separately and show its message.
"""

from __future__ import annotations

from enum import Enum


class KeyKind(str, Enum):
    """The two certificates of a card, their keys and their PINs (R1)."""

    AUTH = "auth"  # 利用者証明用: AUTH PIN, EF 000A / 0017 / 0018
    SIGN = "sign"  # 署名用: SIGN PIN, EF 0001 / 001A / 001B

    @classmethod
    def of(cls, value: "KeyKind | str") -> "KeyKind":
        try:
            return cls(value.value if isinstance(value, KeyKind) else str(value).lower())
        except ValueError:
            raise ValueError(f"kind must be 'auth' or 'sign', not {value!r}") from None


# R1.4: consecutive wrong PINs before the PIN locks.
MAX_TRIES = {KeyKind.AUTH: 3, KeyKind.SIGN: 5}


class PinId(str, Enum):
    """Every PIN the card holds, in whichever application (see ``apps.py`` for the EFs)."""

    AUTH = "auth"        # JPKI AP EF 0018, 利用者証明用電子証明書の暗証番号
    SIGN = "sign"        # JPKI AP EF 001B, 署名用電子証明書の暗証番号
    INPUT = "input"      # 券面事項入力補助AP EF 0011, 券面事項入力補助用暗証番号
    INPUT_A = "input_a"  # 券面事項入力補助AP EF 0014, 照合番号A (the individual number)
    INPUT_B = "input_b"  # 券面事項入力補助AP EF 0015, 照合番号B
    FACE_A = "face_a"    # 券面事項確認AP EF 0013, 照合番号A
    FACE_B = "face_b"    # 券面事項確認AP EF 0012, 照合番号B
    FACE_BIRTH = "face_birth"  # 券面事項確認AP EF 0011, the birth date YYMMDD
    CARD = "card"        # 住基AP EF 0011, 住民基本台帳用暗証番号 (R1.6)

    @classmethod
    def of(cls, value: "PinId | KeyKind | str") -> "PinId":
        raw = value.value if isinstance(value, Enum) else str(value).lower()
        try:
            return cls(raw)
        except ValueError:
            names = ", ".join(p.value for p in cls)
            raise ValueError(f"unknown PIN {value!r} (one of {names})") from None

    @property
    def key_kind(self) -> KeyKind | None:
        """The key this PIN unlocks (JPKI PINs only)."""
        return {PinId.AUTH: KeyKind.AUTH, PinId.SIGN: KeyKind.SIGN}.get(self)

    @property
    def holder_chosen(self) -> bool:
        """A PIN the holder chooses and may change (CHANGE REFERENCE DATA). 照合番号A/B are
        the card's printed data, not a secret the holder picks: the card refuses to change
        them (6985); only the issuer rewrites them with the data."""
        return self in (PinId.AUTH, PinId.SIGN, PinId.INPUT, PinId.CARD)


# Retry limits of every PIN. The JPKI PINs follow R1.4; the 4-digit 券面事項入力補助用暗証番号
# and 住民基本台帳用暗証番号 have 3 tries (R1.6). [open] The tries of 照合番号A/B are not
# published; 10 is chosen here.
PIN_TRIES = {PinId.AUTH: 3, PinId.SIGN: 5, PinId.INPUT: 3, PinId.INPUT_A: 10,
             PinId.INPUT_B: 10, PinId.FACE_A: 10, PinId.FACE_B: 10, PinId.FACE_BIRTH: 10,
             PinId.CARD: 3}

_DIGITS = frozenset(b"0123456789")
_UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


# Digits of each numeric PIN: 照合番号A is the 12-digit individual number, 照合番号B the
# birth date YYMMDD, the card's expiry year YYYY and the 4-digit security code.
_NUMERIC = {PinId.AUTH: 4, PinId.INPUT: 4, PinId.CARD: 4, PinId.INPUT_A: 12,
            PinId.FACE_A: 12, PinId.INPUT_B: 14, PinId.FACE_B: 14, PinId.FACE_BIRTH: 6}


def pin_form_ok(kind: KeyKind | PinId | str, pin: bytes | str) -> bool:
    """R1.3: AUTH PIN exactly 4 digits; SIGN PIN 6–16 characters of A–Z and 0–9 with at least
    one letter and one digit; the other 4-digit PINs (R1.6) 4 digits; 照合番号A 12 digits,
    照合番号B 14. ``pin`` is the ASCII the card receives."""
    pid = PinId.of(kind)
    if isinstance(pin, str):
        try:
            pin = pin.encode("ascii")
        except UnicodeEncodeError:
            return False
    if pid in _NUMERIC:
        return len(pin) == _NUMERIC[pid] and all(b in _DIGITS for b in pin)
    return (6 <= len(pin) <= 16
            and all(b in _DIGITS or b in _UPPER for b in pin)
            and any(b in _DIGITS for b in pin)
            and any(b in _UPPER for b in pin))


_OTHER_FORMS = {
    PinId.INPUT: ("券面事項入力補助用暗証番号は数字4桁です",
                  "the form-filling PIN is exactly 4 digits"),
    PinId.CARD: ("住民基本台帳用暗証番号は数字4桁です (R1.6)",
                 "the resident-registry PIN is exactly 4 digits (R1.6)"),
    PinId.INPUT_A: ("照合番号Aは個人番号12桁です", "PIN A is the 12-digit individual number"),
    PinId.FACE_A: ("照合番号Aは個人番号12桁です", "PIN A is the 12-digit individual number"),
    PinId.INPUT_B: ("照合番号Bは生年月日6桁・有効期限の西暦年4桁・セキュリティコード4桁です",
                    "PIN B is the birth date YYMMDD, the card's expiry year and its "
                    "4-digit security code"),
}
_OTHER_FORMS[PinId.FACE_B] = _OTHER_FORMS[PinId.INPUT_B]
_OTHER_FORMS[PinId.FACE_BIRTH] = ("生年月日の暗証番号は数字6桁 (YYMMDD) です",
                                  "the birth-date PIN is 6 digits, YYMMDD")


def pin_form_message(kind: KeyKind | PinId | str) -> tuple[str, str]:
    """(Japanese, English) description of the form R1.3 (or R1.6) requires."""
    pid = PinId.of(kind)
    if pid in _OTHER_FORMS:
        return _OTHER_FORMS[pid]
    if pid is PinId.AUTH:
        return ("利用者証明用電子証明書の暗証番号は数字4桁です (R1.3)",
                "the AUTH PIN is exactly 4 digits (R1.3)")
    return ("署名用電子証明書の暗証番号は英大文字と数字を各1文字以上含む6〜16文字です (R1.3)",
            "the SIGN PIN is 6-16 characters of A-Z and 0-9 with at least one letter and "
            "one digit (R1.3)")
