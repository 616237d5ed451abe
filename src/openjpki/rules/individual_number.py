"""The individual number (個人番号): 12 digits, the last a check digit.

Check digit (総務省令 on the individual number, art. 5): with P(n) the n-th of the first 11
digits counted from the right (n = 1 is the 11th digit) and Q(n) = n + 1 for n ≤ 6,
n − 5 for n ≥ 7, the remainder r of Σ P(n)·Q(n) by 11 gives the check digit 0 when r ≤ 1,
else 11 − r.

Synthetic numbers: this project gives every resident of its register a number in its own
reserved range, numbers beginning ``9990`` (``SYNTHETIC_PREFIX``), followed by 7 random
digits and the check digit. No range is officially set aside for tests; this prefix is the
project's convention, so that a number it made is recognisable as synthetic
(:func:`is_synthetic`), and a register never mixes in real ones.
"""

from __future__ import annotations

import secrets

SYNTHETIC_PREFIX = "9990"
LENGTH = 12


def check_digit(first11: str) -> int:
    if len(first11) != 11 or not first11.isdigit() or not first11.isascii():
        raise ValueError("the check digit is computed over 11 digits")
    total = 0
    for n in range(1, 12):
        p = int(first11[11 - n])
        q = n + 1 if n <= 6 else n - 5
        total += p * q
    r = total % 11
    return 0 if r <= 1 else 11 - r


def is_valid(number: str) -> bool:
    """12 ASCII digits whose last is the check digit of the first 11."""
    return (isinstance(number, str) and len(number) == LENGTH and number.isascii()
            and number.isdigit() and check_digit(number[:11]) == int(number[11]))


def is_synthetic(number: str) -> bool:
    return is_valid(number) and number.startswith(SYNTHETIC_PREFIX)


def synthetic(randbelow=secrets.randbelow) -> str:
    """A random valid number in the project's reserved range."""
    body = SYNTHETIC_PREFIX + f"{randbelow(10 ** 7):07d}"
    return body + str(check_digit(body))
