"""R2.1–R2.6: certificate validity."""

import calendar
from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings, strategies as st

from openjpki.rules import (
    CertKind, ExpiryBasis, Refused, age_on, birthday_in_year, card_expiry, certificate_expiry,
    legacy_juki_certificate_request, nth_birthday_after, sign_certificate_expiry,
    auth_certificate_expiry,
)

FAR = date(2099, 12, 31)
D = date.fromisoformat

EXPIRY_CASES = [
    # id, kind, birth, issued, card, auth, stay, expected, rule
    ("R2_1_birthday_later_in_issue_year_counts", "sign", "1990-06-15", "2024-01-10", "2034-06-15", None, None, "2028-06-15", "R2.1"),
    ("R2_1_birthday_earlier_in_issue_year_does_not", "auth", "1990-06-15", "2024-07-01", "2034-06-15", None, None, "2029-06-15", "R2.1"),
    ("R2_4_birthday_on_issue_day_does_not_count", "sign", "1990-06-15", "2024-06-15", "2034-06-15", None, None, "2029-06-15", "R2.1"),
    ("R2_4_day_before_birthday", "sign", "1990-06-15", "2024-06-14", "2034-06-15", None, None, "2028-06-15", "R2.1"),
    ("R2_4_day_after_birthday", "sign", "1990-06-15", "2024-06-16", "2034-06-15", None, None, "2029-06-15", "R2.1"),
    ("R2_4_29_feb_fifth_birthday_in_common_year_is_28_feb", "auth", "2000-02-29", "2021-01-01", FAR.isoformat(), None, None, "2025-02-28", "R2.1"),
    ("R2_4_29_feb_fifth_birthday_in_leap_year_is_29_feb", "auth", "2000-02-29", "2023-03-01", FAR.isoformat(), None, None, "2028-02-29", "R2.1"),
    ("R2_4_29_feb_issued_28_feb_common_year_same_day_not_counted", "sign", "2000-02-29", "2023-02-28", FAR.isoformat(), None, None, "2028-02-29", "R2.1"),
    ("R2_4_29_feb_issued_28_feb_leap_year_29th_counts", "sign", "2000-02-29", "2024-02-28", FAR.isoformat(), None, None, "2028-02-29", "R2.1"),
    ("R2_1_capped_by_card_expiry", "sign", "1990-06-15", "2024-01-10", "2026-03-31", None, None, "2026-03-31", "R2.1"),
    ("R2_2_sign_capped_by_auth", "sign", "1990-06-15", "2024-01-10", "2034-06-15", "2027-06-15", None, "2027-06-15", "R2.2"),
    ("R2_2_auth_is_not_capped_by_auth_expiry", "auth", "1990-06-15", "2024-01-10", "2034-06-15", "2027-06-15", None, "2028-06-15", "R2.1"),
    ("R2_3_capped_by_end_of_stay", "auth", "1990-06-15", "2024-01-10", "2034-06-15", None, "2025-09-30", "2025-09-30", "R2.3"),
    ("R2_3_stay_before_auth_cap", "sign", "1990-06-15", "2024-01-10", "2034-06-15", "2027-06-15", "2026-01-01", "2026-01-01", "R2.3"),
    ("R2_3_stay_after_expiry_does_not_matter", "sign", "1990-06-15", "2024-01-10", "2034-06-15", None, "2030-01-01", "2028-06-15", "R2.1"),
    ("R2_1_tie_card_and_birthday_names_R2_1", "sign", "1990-06-15", "2024-01-10", "2028-06-15", "2028-06-15", "2028-06-15", "2028-06-15", "R2.1"),
    ("R2_2_tie_auth_and_stay_names_R2_2", "sign", "1990-06-15", "2024-01-10", "2034-06-15", "2027-01-01", "2027-01-01", "2027-01-01", "R2.2"),
    ("R2_1_issued_on_birth_day", "auth", "2024-04-01", "2024-04-01", "2029-04-01", None, None, "2029-04-01", "R2.1"),
    ("R2_3_stay_ending_on_issue_day", "auth", "1990-06-15", "2024-01-10", "2034-06-15", None, "2024-01-10", "2024-01-10", "R2.3"),
]


@pytest.mark.parametrize("case", EXPIRY_CASES, ids=[c[0] for c in EXPIRY_CASES])
def test_R2_certificate_expiry_table(case):
    _, kind, birth, issued, card, auth, stay, expected, rule = case
    e = certificate_expiry(kind, D(birth), D(issued), D(card), D(auth) if auth else None,
                           D(stay) if stay else None)
    assert (e.expires_on, e.rule) == (D(expected), rule)
    assert e.to_dict() == {"expires_on": expected, "rule": rule}


def test_R2_1_basis_names_what_limited_it():
    e = certificate_expiry("sign", D("1990-06-15"), D("2024-01-10"), D("2026-03-31"))
    assert e.basis is ExpiryBasis.CARD
    e = sign_certificate_expiry(D("1990-06-15"), D("2024-01-10"), D("2034-06-15"), D("2027-06-15"))
    assert e.basis is ExpiryBasis.AUTH and e.rule == "R2.2"
    e = auth_certificate_expiry(D("1990-06-15"), D("2024-01-10"), D("2034-06-15"), D("2025-01-01"))
    assert e.basis is ExpiryBasis.STAY and e.rule == "R2.3"


@pytest.mark.parametrize("kwargs", [
    dict(birth=D("2025-01-01"), issued=D("2024-01-01"), card_expiry=D("2030-01-01")),
    dict(birth=D("1990-01-01"), issued=D("2024-01-01"), card_expiry=D("2023-12-31")),
    dict(birth=D("1990-01-01"), issued=D("2024-01-01"), card_expiry=D("2030-01-01"), stay_until=D("2023-12-31")),
    dict(birth=D("1990-01-01"), issued=D("2024-01-01"), card_expiry=D("2030-01-01"), auth_expiry=D("2023-12-31")),
])
def test_R2_impossible_input_is_a_value_error(kwargs):
    with pytest.raises(ValueError):
        certificate_expiry("sign", **kwargs)


def test_R2_unknown_kind_is_a_value_error():
    with pytest.raises(ValueError):
        certificate_expiry("bank", D("1990-01-01"), D("2024-01-01"), D("2030-01-01"))


dates = st.dates(min_value=date(1905, 1, 1), max_value=date(2080, 12, 31))


@settings(deadline=None)
@given(birth=dates, issue_offset=st.integers(0, 110 * 366), card_days=st.integers(0, 12 * 366),
       auth_days=st.one_of(st.none(), st.integers(0, 6 * 366)),
       stay_days=st.one_of(st.none(), st.integers(0, 6 * 366)),
       kind=st.sampled_from(["sign", "auth"]))
def test_R2_1_R2_2_R2_3_expiry_never_after_any_cap(birth, issue_offset, card_days, auth_days,
                                                   stay_days, kind):
    issued = birth + timedelta(days=issue_offset)
    assume(issued <= date(2085, 1, 1))
    card = issued + timedelta(days=card_days)
    auth = None if auth_days is None else issued + timedelta(days=auth_days)
    stay = None if stay_days is None else issued + timedelta(days=stay_days)
    e = certificate_expiry(kind, birth, issued, card, auth, stay)
    assert issued <= e.expires_on <= card
    if kind == "sign" and auth is not None:
        assert e.expires_on <= auth
    if stay is not None:
        assert e.expires_on <= stay
    assert e.expires_on <= nth_birthday_after(birth, issued, 5)
    limits = {"R2.1": [card, nth_birthday_after(birth, issued, 5)], "R2.2": [auth], "R2.3": [stay]}
    assert e.expires_on in limits[e.rule]


@settings(deadline=None)
@given(birth=dates, issue_offset=st.integers(0, 110 * 366), kind=st.sampled_from(["sign", "auth"]))
def test_R2_1_R2_4_uncapped_expiry_is_the_birthday_in_the_5th_year_or_the_year_after(
        birth, issue_offset, kind):
    issued = birth + timedelta(days=issue_offset)
    assume(issued <= date(2085, 1, 1))
    e = certificate_expiry(kind, birth, issued, date(2099, 12, 31))
    assert e.rule == "R2.1" and e.basis is ExpiryBasis.BIRTHDAY
    this_year = birthday_in_year(birth, issued.year)
    expected_year = issued.year + (4 if this_year > issued else 5)
    assert e.expires_on.year == expected_year
    if (birth.month, birth.day) == (2, 29):
        assert (e.expires_on.month, e.expires_on.day) == (
            (2, 29) if calendar.isleap(expected_year) else (2, 28))
    else:
        assert (e.expires_on.month, e.expires_on.day) == (birth.month, birth.day)
    # exactly five birthdays fall in (issued, expiry]
    count = sum(1 for y in range(issued.year, expected_year + 1)
                if issued < birthday_in_year(birth, y) <= e.expires_on)
    assert count == 5


CARD_CASES = [
    ("R2_5_adult_10th_birthday", "2000-05-01", "2020-01-01", "2029-05-01"),
    ("R2_5_child_5th_birthday", "2010-05-01", "2020-01-01", "2024-05-01"),
    ("R2_5_eighteen_on_issue_day_is_adult", "2002-01-01", "2020-01-01", "2030-01-01"),
    ("R2_5_day_before_eighteenth_birthday_is_young", "2002-01-02", "2020-01-01", "2024-01-02"),
    ("R2_5_29_feb_adult_ends_28_feb", "1980-02-29", "2021-03-01", "2031-02-28"),
]


@pytest.mark.parametrize("case", CARD_CASES, ids=[c[0] for c in CARD_CASES])
def test_R2_5_card_expiry_reference(case):
    _, birth, issued, expected = case
    assert card_expiry(D(birth), D(issued)) == D(expected)


def test_R2_6_legacy_juki_card_certificate_is_refused_with_advice():
    r = legacy_juki_certificate_request()
    assert isinstance(r, Refused) and r.rule == "R2.6"
    assert "マイナンバーカード" in r.message_ja and "My Number Card" in r.message_en
    assert "2015" in r.message_en


@pytest.mark.parametrize("birth,day,age", [
    ("2008-02-29", "2023-02-28", 14), ("2008-02-29", "2023-03-01", 15),
    ("2008-02-29", "2024-02-28", 15), ("2008-02-29", "2024-02-29", 16),
    ("2009-04-02", "2024-04-01", 14), ("2009-04-02", "2024-04-02", 15),
])
def test_R1_5_age_on_the_day(birth, day, age):
    assert age_on(D(birth), D(day)) == age


def test_R2_1_result_unpacks_as_date_and_rule():
    expires_on, rule = certificate_expiry("auth", D("1990-06-15"), D("2024-01-10"), D("2034-06-15"))
    assert (expires_on, rule) == (D("2028-06-15"), "R2.1")
