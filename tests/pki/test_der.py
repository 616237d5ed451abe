"""The small DER writer against asn1crypto's encoder."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from asn1crypto import core, x509 as ax
from hypothesis import given
from hypothesis import strategies as st

from openjpki.pki import der


@given(st.integers(min_value=-(2**200), max_value=2**200))
def test_integers(value):
    assert der.integer(value) == core.Integer(value).dump()


@given(st.binary(max_size=70000))
def test_lengths_and_octet_strings(data):
    encoded = der.octet_string(data)
    assert encoded == core.OctetString(data).dump()
    assert der.read_tlv(encoded) == (0x04, len(encoded) - len(data), len(encoded))


@pytest.mark.parametrize("oid", ["2.5.29.15", "1.2.392.200149.8.5.5.1", "1.2.840.113549.1.1.11", "2.999.1", "0.9.2342"])
def test_object_identifiers(oid):
    assert der.oid(oid) == core.ObjectIdentifier(oid).dump()


@pytest.mark.parametrize("bad", ["1", "3.1", "1.40", "x.y"])
def test_bad_object_identifiers(bad):
    with pytest.raises(ValueError):
        der.oid(bad)


@pytest.mark.parametrize("bits,names", [
    ({5, 6}, {"key_cert_sign", "crl_sign"}),
    ({0, 1}, {"digital_signature", "non_repudiation"}),
    ({0}, {"digital_signature"}),
    ({8}, {"decipher_only"}),
])
def test_named_bit_lists(bits, names):
    assert der.named_bits(bits) == ax.KeyUsage(names).dump()


@pytest.mark.parametrize("moment", [
    datetime(2025, 4, 1, 1, 2, 3, tzinfo=timezone.utc),
    datetime(2049, 12, 31, 23, 59, 59, tzinfo=timezone.utc),
    datetime(2050, 1, 1, 8, 0, 0, tzinfo=timezone(timedelta(hours=9))),  # 2049 in UTC
    datetime(2050, 1, 1, 0, 0, 0, tzinfo=timezone.utc),
    datetime(1999, 5, 6, 7, 8, 9, 999999, tzinfo=timezone.utc),
])
def test_times_follow_rfc5280(moment):
    utc = moment.astimezone(timezone.utc).replace(microsecond=0)
    expected = (core.UTCTime(utc) if utc.year < 2050 else core.GeneralizedTime(utc)).dump()
    assert der.x509_time(moment) == expected
    assert der.generalized_time(moment) == core.GeneralizedTime(utc).dump()


def test_naive_times_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        der.x509_time(datetime(2025, 1, 1))


@pytest.mark.parametrize("data", [b"", b"\x30", b"\x30\x05\x00", b"\x30\x80\x00\x00", b"\x1f\x01\x00",
                                  b"\x30\x85\x00\x00\x00\x00\x01\x00"])
def test_reader_refuses_bad_headers(data):
    with pytest.raises(ValueError):
        der.read_tlv(data)
