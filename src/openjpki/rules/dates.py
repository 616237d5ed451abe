"""Calendar arithmetic the rules share: birthdays, ages, months, business days.

All dates are Japan dates (JST, UTC+9, no daylight saving); :data:`JST` is the zone.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta, timezone

import jpholiday

JST = timezone(timedelta(hours=9), "JST")
"""Japan Standard Time. Every date in the rules is a Japan date."""

YEAR_END_CLOSURE = ((12, 29), (1, 3))
"""12/29–1/3, the year-end closure of public offices (R5.8) — not business days (R3.5)."""


def to_jst(at: datetime) -> datetime:
    """``at`` in Japan time; a naive datetime is taken to be Japan time already."""
    return at.replace(tzinfo=JST) if at.tzinfo is None else at.astimezone(JST)


def clamp_day(year: int, month: int, day: int) -> date:
    """The date ``year-month-day``, or the month's last day when the month is shorter
    (Civil Code art. 143 para. 2, R2.4, R3.1)."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def birthday_in_year(birth: date, year: int) -> date:
    """R2.4: the holder's birthday in ``year``; a 29 February birthday falls on 28 February
    in common years."""
    return clamp_day(year, birth.month, birth.day)


def nth_birthday_after(birth: date, day: date, n: int) -> date:
    """R2.1, R2.4, R2.5: the ``n``-th birthday strictly after ``day`` (発行の日後n回目の誕生日):
    a birthday falling on ``day`` itself does not count."""
    if n < 1:
        raise ValueError("n must be at least 1")
    first_year = day.year if birthday_in_year(birth, day.year) > day else day.year + 1
    return birthday_in_year(birth, first_year + n - 1)


def age_on(birth: date, day: date) -> int:
    """The holder's age (満年齢) on ``day``, as Japanese law counts it (年齢計算ニ関スル法律 with
    Civil Code art. 143): a year of age is completed at the end of the day before the
    birthday, so the age goes up at the start of the birthday; a 29 February child completes
    it at the end of 28 February in common years, i.e. is older from 1 March.

    (This differs on purpose from :func:`birthday_in_year`, which R2.4 fixes for expiry.)"""
    if day < birth:
        raise ValueError("the day is before the birth date")
    years = day.year - birth.year
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(day.year):
        this_year = date(day.year, 3, 1)
    else:
        this_year = date(day.year, birth.month, birth.day)
    return years if day >= this_year else years - 1


def months_before(day: date, months: int) -> date:
    """R3.1: ``day`` minus calendar ``months``, clamped to the month's end
    (31 May minus 3 months → 28/29 February)."""
    index = day.year * 12 + (day.month - 1) - months
    return clamp_day(index // 12, index % 12 + 1, day.day)


def is_year_end_closure(day: date) -> bool:
    """12/29–1/3 (R5.8): the year-end closure."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


def is_business_day(day: date) -> bool:
    """R3.5 **Decision**: a business day (営業日) is a day that is not a Saturday, a Sunday,
    a national holiday or substitute holiday (the ``jpholiday`` calendar), nor in the
    year-end closure 12/29–1/3 — the days public offices and J-LIS work."""
    return day.weekday() < 5 and not jpholiday.is_holiday(day) and not is_year_end_closure(day)


def add_business_days(day: date, n: int) -> date:
    """The ``n``-th business day after ``day`` (``day`` itself never counts)."""
    if n < 1:
        raise ValueError("n must be at least 1")
    d = day
    while n:
        d += timedelta(days=1)
        if is_business_day(d):
            n -= 1
    return d
