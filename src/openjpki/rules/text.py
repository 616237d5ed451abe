"""What a register entry's text may hold (R1.2: the facts a SIGN certificate carries).

A name, an address, a 旧氏 or a 通称 is read by people — on the card face, on letters, in a
relying party's screens — and carried into certificates. So it must show at least one
visible character, and it may hold none of: C0 and C1 control characters, bidirectional
controls (which can make a name read differently from what is stored, e.g. U+202E),
noncharacters (U+FFFE, U+FFFF, U+FDD0…U+FDEF and the last two of every plane), the byte
order mark, unpaired surrogates, or code points Unicode has not assigned. Private-use
characters stay allowed: registers write 外字 that way.

:func:`register_text_problem` says what is wrong (or None); :func:`check_register_text`
raises :class:`RegisterTextError` (a ValueError) with that message. Every entry point —
the API, the pages, the CLI and the services under them — calls these.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Optional

RULE = "R1.2"
BIDI_CONTROLS = frozenset({0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F),
                           *range(0x2066, 0x206A)})
BYTE_ORDER_MARK = 0xFEFF


class RegisterTextError(ValueError):
    """A text a register entry may not hold; the message names the character (U+XXXX)
    and its position (counted from 1)."""


def is_noncharacter(cp: int) -> bool:
    return 0xFDD0 <= cp <= 0xFDEF or (cp & 0xFFFE) == 0xFFFE


def _what(ch: str) -> Optional[str]:
    """Why ``ch`` may not be in a register entry, or None when it may."""
    cp = ord(ch)
    category = unicodedata.category(ch)
    if category == "Cc":
        return "a control character"
    if cp in BIDI_CONTROLS:
        return "a bidirectional control"
    if is_noncharacter(cp):
        return "a noncharacter"
    if cp == BYTE_ORDER_MARK:
        return "a byte order mark"
    if category == "Cs":
        return "an unpaired surrogate (not text)"
    if category == "Cn":
        return "not an assigned character"
    return None


def _visible(ch: str) -> bool:
    return unicodedata.category(ch)[0] not in "ZC" or unicodedata.category(ch) == "Co"


def _label(ch: str) -> str:
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" {name}" if name else "")


@dataclass(frozen=True)
class TextFault:
    """The first thing wrong with a text: the character and its position (from 1), or
    ``char`` None when the text shows no visible character at all."""

    position: int
    char: Optional[str]
    what: str

    def message_en(self, field: str) -> str:
        if self.char is None:
            return f"{field}: holds no visible character ({RULE})"
        return (f"{field}: {_label(self.char)} at position {self.position} is {self.what}; "
                f"a register entry may not hold it ({RULE})")

    def message_ja(self) -> str:
        if self.char is None:
            return f"表示される文字がありません（{RULE}）。"
        return f"{self.position}文字目の U+{ord(self.char):04X} は使えない文字です（{RULE}）。"


def register_text_fault(value: str) -> Optional[TextFault]:
    """What makes ``value`` unfit for the register, or None when it is fit. An empty text
    is the caller's to allow (removing a 旧氏) or refuse."""
    for position, ch in enumerate(value, start=1):
        what = _what(ch)
        if what is not None:
            return TextFault(position, ch, what)
    if value and not any(_visible(ch) for ch in value):
        return TextFault(0, None, "invisible")
    return None


def register_text_problem(field: str, value: str) -> Optional[str]:
    """:func:`register_text_fault` as one line naming ``field``; None when fit."""
    fault = register_text_fault(value)
    return None if fault is None else fault.message_en(field)


def check_register_text(field: str, value: str) -> str:
    """``value`` itself when fit for the register; RegisterTextError otherwise."""
    problem = register_text_problem(field, value)
    if problem is not None:
        raise RegisterTextError(problem)
    return value
