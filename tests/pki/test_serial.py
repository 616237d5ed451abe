"""Serial numbers (PROFILES.md; RFC 5280 §4.1.2.2): ≥ 64 random bits, unique, ≤ 20 octets."""

from __future__ import annotations

from openjpki.pki import new_serial
from openjpki.pki.der import integer


def test_ten_thousand_serials_are_unique_positive_and_short():
    serials = [new_serial() for _ in range(10_000)]
    assert len(set(serials)) == len(serials)
    assert all(0 < s < 2**159 for s in serials)
    assert all(len(integer(s)) - 2 <= 20 for s in serials)  # DER content octets


def test_serials_carry_at_least_64_random_bits():
    serials = [new_serial() for _ in range(10_000)]
    # every one of the low 126 bit positions varies (a constant bit would show 0 or 10000)
    for bit in range(126):
        ones = sum((s >> bit) & 1 for s in serials)
        assert 4_600 < ones < 5_400, (bit, ones)
    assert min(s.bit_length() for s in serials) >= 64
