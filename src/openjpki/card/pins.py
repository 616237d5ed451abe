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

_DIGITS = frozenset(b"0123456789")
_UPPER = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def pin_form_ok(kind: KeyKind | str, pin: bytes | str) -> bool:
    """R1.3: AUTH PIN exactly 4 digits; SIGN PIN 6–16 characters of A–Z and 0–9 with at least
    one letter and one digit. ``pin`` is the ASCII the card receives."""
    kind = KeyKind.of(kind)
    if isinstance(pin, str):
        try:
            pin = pin.encode("ascii")
        except UnicodeEncodeError:
            return False
    if kind is KeyKind.AUTH:
        return len(pin) == 4 and all(b in _DIGITS for b in pin)
    return (6 <= len(pin) <= 16
            and all(b in _DIGITS or b in _UPPER for b in pin)
            and any(b in _DIGITS for b in pin)
            and any(b in _UPPER for b in pin))


def pin_form_message(kind: KeyKind | str) -> tuple[str, str]:
    """(Japanese, English) description of the form R1.3 requires."""
    if KeyKind.of(kind) is KeyKind.AUTH:
        return ("利用者証明用電子証明書の暗証番号は数字4桁です (R1.3)",
                "the AUTH PIN is exactly 4 digits (R1.3)")
    return ("署名用電子証明書の暗証番号は英大文字と数字を各1文字以上含む6〜16文字です (R1.3)",
            "the SIGN PIN is 6-16 characters of A-Z and 0-9 with at least one letter and "
            "one digit (R1.3)")
