"""R5.8, R6.4, R7.2: counter hours and closures from configuration; kiosk hours."""

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from openjpki.rules import (
    JST, CalendarConfigError, counter_open, default_calendar, kiosk_open, load_calendar,
    parse_calendar,
)

CAL = default_calendar()
HALL = CAL.office("city-hall")
STATION = CAL.office("station-centre")


def J(s):
    return datetime.fromisoformat(s).replace(tzinfo=JST)


COUNTER_CASES = [
    # id, office, at, open, next opening
    ("R5_8_city_hall_weekday_morning", HALL, "2024-06-14T08:30", True, None),
    ("R5_8_city_hall_before_opening", HALL, "2024-06-14T08:29", False, "2024-06-14T08:30"),
    ("R5_8_city_hall_last_minute", HALL, "2024-06-14T17:14", True, None),
    ("R5_8_city_hall_closes_at_17_15_friday_to_monday", HALL, "2024-06-14T17:15", False, "2024-06-17T08:30"),
    ("R5_8_city_hall_saturday_closed", HALL, "2024-06-15T10:00", False, "2024-06-17T08:30"),
    ("R5_8_city_hall_national_holiday_closed", HALL, "2024-07-15T10:00", False, "2024-07-16T08:30"),
    ("R5_8_station_weekday_until_18", STATION, "2024-06-14T17:59", True, None),
    ("R5_8_station_weekday_18_closed", STATION, "2024-06-14T18:00", False, "2024-06-15T08:30"),
    ("R5_8_station_saturday_until_15", STATION, "2024-06-15T14:59", True, None),
    ("R5_8_station_sunday_after_third_saturday_closed", STATION, "2024-06-16T10:00", False, "2024-06-17T08:30"),
    ("R5_8_station_saturday_15_next_is_monday_because_of_maintenance_sunday", STATION, "2024-06-15T15:00", False, "2024-06-17T08:30"),
    ("R5_8_station_ordinary_sunday_open", STATION, "2024-06-09T10:00", True, None),
    ("R5_8_station_holiday_weekend_hours", STATION, "2024-07-15T10:00", True, None),
    ("R5_8_station_holiday_closes_at_15", STATION, "2024-07-15T15:00", False, "2024-07-16T08:30"),
    ("R5_8_maintenance_day_2023_10_07", STATION, "2023-10-07T10:00", False, "2023-10-08T08:30"),
    ("R5_8_maintenance_day_2023_11_02", HALL, "2023-11-02T10:00", False, "2023-11-06T08:30"),
    ("R5_8_maintenance_day_2023_11_04", STATION, "2023-11-04T09:00", False, "2023-11-05T08:30"),
    ("R5_8_year_end_29_december_closed", STATION, "2024-12-29T10:00", False, "2025-01-04T08:30"),
    ("R5_8_year_end_3_january_closed", HALL, "2025-01-03T10:00", False, "2025-01-06T08:30"),
    ("R5_8_28_december_open", STATION, "2024-12-28T10:00", True, None),
]


@pytest.mark.parametrize("case", COUNTER_CASES, ids=[c[0] for c in COUNTER_CASES])
def test_R5_8_counter_open_table(case):
    _, office, at, is_open, nxt = case
    d = counter_open(office, J(at))
    assert (d.allowed, d.rule) == (is_open, "R5.8"), d
    if not is_open:
        assert d.opens_at == J(nxt) and d.opens_on == J(nxt).date()
        assert d.message_ja and d.message_en


def test_R5_8_naive_and_other_zones_are_japan_time():
    assert counter_open("city-hall", datetime(2024, 6, 14, 17, 0)).allowed
    assert counter_open("city-hall", datetime(2024, 6, 14, 8, 0, tzinfo=timezone.utc)).allowed
    assert not counter_open("city-hall", datetime(2024, 6, 14, 9, 0, tzinfo=timezone.utc)).allowed


def test_R5_8_unknown_office_is_a_config_error():
    with pytest.raises(CalendarConfigError, match="unknown office"):
        counter_open("moon-base", J("2024-06-14T10:00"))


@settings(max_examples=150, deadline=None)
@given(st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 12, 31)),
       st.sampled_from(["city-hall", "station-centre"]))
def test_R5_8_next_opening_is_the_first_open_minute(at, oid):
    d = counter_open(oid, at)
    if d.allowed:
        return
    nxt = d.opens_at
    assert nxt > at.replace(tzinfo=JST)
    assert counter_open(oid, nxt).allowed
    assert not counter_open(oid, nxt - timedelta(minutes=1)).allowed


KIOSK_CASES = [
    ("R6_4_before_6_30", "2024-06-14T06:29", False, "2024-06-14T06:30"),
    ("R6_4_at_6_30", "2024-06-14T06:30", True, None),
    ("R6_4_22_59", "2024-06-14T22:59", True, None),
    ("R6_4_23_00_closed_until_tomorrow", "2024-06-14T23:00", False, "2024-06-15T06:30"),
    ("R6_4_new_year_day_open", "2025-01-01T12:00", True, None),
]


@pytest.mark.parametrize("case", KIOSK_CASES, ids=[c[0] for c in KIOSK_CASES])
@pytest.mark.parametrize("rule", ["R6.4", "R7.2"])
def test_R6_4_R7_2_kiosk_hours(case, rule):
    _, at, is_open, nxt = case
    d = kiosk_open(J(at), rule)
    assert (d.allowed, d.rule) == (is_open, rule)
    if nxt:
        assert d.opens_at == J(nxt)


def test_R5_8_default_file_has_the_seed_closures():
    assert {date(2023, 10, 7), date(2023, 11, 2), date(2023, 11, 4)} <= STATION.closures.dates
    assert str(HALL.weekdays) == "08:30-17:15" and HALL.weekends_holidays is None
    assert str(STATION.weekends_holidays) == "08:30-15:00"
    assert str(CAL.kiosk_hours) == "06:30-23:00"


GOOD = """
[closures]
annual = [{ from = "08-13", to = "08-15" }]
dates = [2024-06-20]
[offices.branch]
name_ja = "支所"
weekdays = "09:00-16:00"
closed_dates = ["2024-06-21"]
"""


def test_R5_8_hours_and_closures_are_configuration(tmp_path):
    p = tmp_path / "offices.toml"
    p.write_text(GOOD, encoding="utf-8")
    branch = load_calendar(p).office("branch")
    assert not counter_open(branch, J("2024-06-19T08:59")).allowed
    assert counter_open(branch, J("2024-06-19T09:00")).allowed
    assert not counter_open(branch, J("2024-06-20T10:00")).allowed  # shared closure date
    d = counter_open(branch, J("2024-06-21T10:00"))                  # office's own closure
    assert d.opens_at == J("2024-06-24T09:00")
    assert not counter_open(branch, J("2024-08-14T10:00")).allowed   # annual range
    assert counter_open(branch, J("2024-06-16T10:00").replace(day=17)).allowed


BAD = [
    ("not_toml", "offices = [", "not valid TOML"),
    ("no_offices", "[kiosk]\nhours = \"06:30-23:00\"", "no [offices"),
    ("bad_hours", "[offices.a]\nweekdays = \"8:30 to 17\"", "offices.a"),
    ("end_before_start", "[offices.a]\nweekdays = \"17:00-08:30\"", "end before"),
    ("no_hours", "[offices.a]\nname_ja = \"x\"", "needs weekdays"),
    ("unknown_key", "[offices.a]\nweekdays = \"08:30-17:00\"\nsaturdays = \"x\"", "unknown key"),
    ("unknown_monthly", "[closures]\nmonthly = [\"full-moon\"]\n[offices.a]\nweekdays = \"08:30-17:00\"", "full-moon"),
    ("bad_date", "[closures]\ndates = [\"2023-13-01\"]\n[offices.a]\nweekdays = \"08:30-17:00\"", "2023-13-01"),
    ("missing_from", "[closures]\nannual = [{ to = \"01-03\" }]\n[offices.a]\nweekdays = \"08:30-17:00\"", "missing key"),
    ("bad_kiosk", "[kiosk]\nhours = \"late\"\n[offices.a]\nweekdays = \"08:30-17:00\"", "[kiosk]"),
]


@pytest.mark.parametrize("name,text,fragment", BAD, ids=[b[0] for b in BAD])
def test_R5_8_bad_configuration_gives_a_clear_one_line_error(name, text, fragment):
    with pytest.raises(CalendarConfigError) as e:
        parse_calendar(text, "my.toml")
    msg = str(e.value)
    assert msg.startswith("my.toml") and fragment in msg and "\n" not in msg


def test_R5_8_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(CalendarConfigError, match="cannot read"):
        load_calendar(tmp_path / "none.toml")


def test_R5_8_load_offices_by_id():
    from openjpki.rules import load_offices
    assert set(load_offices()) == {"city-hall", "station-centre"}
