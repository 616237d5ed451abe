"""R3.1–R3.6: renewal window, expiry notice, activation, fees."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from openjpki.rules import (
    Allowed, Refused, certificate_fee, convenience_services_from, expiry_notice_due,
    expiry_notice_on, is_business_day, renewal_decision, renewal_opens_on,
)

D = date.fromisoformat


def test_R3_1_worked_example_expiry_1_july_opens_2_april():
    # 000: 例：有効期限が7月1日の場合は、4月2日以降に更新手続きが可能
    assert renewal_opens_on(date(2025, 7, 1)) == date(2025, 4, 2)


OPENS_CASES = [
    ("R3_1_expiry_31_may_common_year_opens_1_march", "2025-05-31", "2025-03-01"),
    ("R3_1_expiry_31_may_leap_year_opens_1_march", "2024-05-31", "2024-03-01"),
    ("R3_1_expiry_29_may_leap_year_29_feb_then_1_march", "2024-05-29", "2024-03-01"),
    ("R3_1_expiry_28_may_common_year", "2025-05-28", "2025-03-01"),
    ("R3_1_expiry_27_may_common_year", "2025-05-27", "2025-02-28"),
    ("R3_1_expiry_1_march_crosses_year", "2025-03-01", "2024-12-02"),
    ("R3_1_expiry_31_march_opens_1_january", "2025-03-31", "2025-01-01"),
    ("R3_1_expiry_31_january_crosses_year", "2025-01-31", "2024-11-01"),
    ("R3_1_expiry_30_november", "2025-11-30", "2025-08-31"),
    ("R3_1_expiry_31_december", "2025-12-31", "2025-10-01"),
    ("R3_1_expiry_31_august_opens_1_june", "2025-08-31", "2025-06-01"),
]


@pytest.mark.parametrize("case", OPENS_CASES, ids=[c[0] for c in OPENS_CASES])
def test_R3_1_renewal_opens_on_table(case):
    _, expiry, opens = case
    assert renewal_opens_on(D(expiry)) == D(opens)


DECISION_CASES = [
    # id, expiry, on, allowed, rule, opens_on
    ("R3_2_day_before_window_refused_naming_2_april", "2025-07-01", "2025-04-01", False, "R3.2", "2025-04-02"),
    ("R3_1_first_day_of_window_allowed", "2025-07-01", "2025-04-02", True, "R3.1", None),
    ("R3_1_expiry_day_itself_allowed", "2025-07-01", "2025-07-01", True, "R3.1", None),
    ("R3_3_day_after_expiry_refused_new_issuance", "2025-07-01", "2025-07-02", False, "R3.3", None),
    ("R3_3_years_after_expiry", "2025-07-01", "2030-01-01", False, "R3.3", None),
    ("R3_2_a_year_before", "2025-07-01", "2024-07-01", False, "R3.2", "2025-04-02"),
]


@pytest.mark.parametrize("case", DECISION_CASES, ids=[c[0] for c in DECISION_CASES])
def test_R3_renewal_decision_table(case):
    _, expiry, on, allowed, rule, opens = case
    d = renewal_decision(D(expiry), D(on))
    assert (d.allowed, d.rule) == (allowed, rule)
    if opens:
        assert isinstance(d, Refused) and d.opens_on == D(opens)
        assert opens in d.message_en and "2025年4月2日" in d.message_ja
    assert d.message_ja and d.message_en


def test_R3_3_refusal_points_to_new_issuance():
    d = renewal_decision(D("2025-07-01"), D("2025-08-01"))
    assert "新規発行" in d.message_ja and "new issuance" in d.message_en


@settings(deadline=None)
@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2150, 12, 31)))
def test_R3_1_window_opens_89_to_92_days_before_expiry_counting_the_expiry_day(expiry):
    opens = renewal_opens_on(expiry)
    assert 89 <= (expiry - opens).days + 1 <= 92
    # the day before opening is three calendar months (clamped) before expiry
    before = opens - timedelta(days=1)
    months = (expiry.year * 12 + expiry.month) - (before.year * 12 + before.month)
    assert months == 3
    assert before.day == expiry.day or (before.day < expiry.day and (before + timedelta(days=1)).month != before.month)


@settings(deadline=None)
@given(st.dates(min_value=date(1950, 1, 1), max_value=date(2150, 12, 31)),
       st.integers(-200, 200))
def test_R3_1_R3_2_R3_3_decision_partitions_the_timeline(expiry, offset):
    on = expiry + timedelta(days=offset)
    d = renewal_decision(expiry, on)
    opens = renewal_opens_on(expiry)
    if on < opens:
        assert d.rule == "R3.2" and d.opens_on == opens
    elif on <= expiry:
        assert isinstance(d, Allowed) and d.rule == "R3.1"
    else:
        assert d.rule == "R3.3" and not d.allowed


ACTIVATION_CASES = [
    ("R3_5_monday_to_wednesday", "2024-06-03", "2024-06-05"),
    ("R3_5_friday_to_tuesday", "2024-06-07", "2024-06-11"),
    ("R3_5_saturday_to_tuesday", "2024-06-01", "2024-06-04"),
    ("R3_5_showa_day_skipped", "2024-04-26", "2024-05-01"),
    ("R3_5_golden_week_substitute_holiday_skipped", "2024-05-02", "2024-05-08"),
    ("R3_5_year_end_closure_skipped", "2023-12-27", "2024-01-04"),
    ("R3_5_new_year_3_january_is_not_a_business_day", "2025-01-02", "2025-01-07"),
]


@pytest.mark.parametrize("case", ACTIVATION_CASES, ids=[c[0] for c in ACTIVATION_CASES])
def test_R3_5_convenience_services_from_two_business_days_after(case):
    _, renewed, expected = case
    assert convenience_services_from(D(renewed)) == D(expected)


@pytest.mark.parametrize("day,business", [
    ("2024-06-03", True), ("2024-06-01", False), ("2024-06-02", False), ("2024-01-08", False),
    ("2024-12-27", True), ("2024-12-30", False), ("2025-01-03", False), ("2025-01-06", True),
    ("2024-02-12", False),  # substitute holiday for National Foundation Day
])
def test_R3_5_business_days(day, business):
    assert is_business_day(D(day)) is business


@settings(deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2050, 12, 31)))
def test_R3_5_activation_is_2_to_12_days_later_and_a_business_day(renewed):
    d = convenience_services_from(renewed)
    assert is_business_day(d) and 2 <= (d - renewed).days <= 12
    between = [renewed + timedelta(days=i) for i in range(1, (d - renewed).days)]
    assert sum(map(is_business_day, between)) == 1


def test_R3_6_fees():
    assert certificate_fee() == 0
    assert certificate_fee(with_paid_card_reissue=True) == 200


@pytest.mark.parametrize("expiry,on,rule,sent,due", [
    ("2025-07-01", "2025-04-01", "R2.1", False, False),
    ("2025-07-01", "2025-04-02", "R2.1", False, True),
    ("2025-07-01", "2025-07-01", "R2.2", False, True),
    ("2025-07-01", "2025-07-02", "R2.1", False, False),
    ("2025-07-01", "2025-05-02", "R2.1", True, False),
    ("2025-07-01", "2025-05-02", "R2.3", False, False),
])
def test_R3_4_expiry_notice(expiry, on, rule, sent, due):
    assert expiry_notice_on(D(expiry)) == D("2025-04-02")
    assert expiry_notice_due(D(expiry), D(on), expiry_rule=rule, already_sent=sent) is due
