"""Counter and kiosk calendars (RULES.md R5.8, R6.4, R7.2).

Hours and closures are configuration, not code (R5.8): a TOML file (the default ships as
``openjpki/rules/offices.toml``) read by :func:`load_calendar`, the one function here that
does I/O. Everything else takes the moment as an argument. A naive datetime is taken as
Japan time; answers (``opens_at``) are aware datetimes in JST.

Decisions: the end of a time range is exclusive (a counter open 8:30–17:15 is closed at
17:15); weekday hours apply Monday–Friday except national holidays, which follow the
weekend/holiday hours (or are closed when an office has none); the closures (year end
12/29–1/3, the Sunday after the third Saturday, announced maintenance days) apply to every
office.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import jpholiday

from openjpki.rules.dates import JST, to_jst
from openjpki.rules.decision import Allowed, Refused

SEARCH_DAYS = 400
"""How far ahead the next opening is looked for."""
MONTHLY_RULES = ("sunday-after-third-saturday",)


class CalendarConfigError(ValueError):
    """The calendar file is missing, is not TOML, or has a bad entry (message names it)."""


@dataclass(frozen=True)
class Hours:
    """A daily opening range [start, end) in Japan time."""

    start: time
    end: time

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"

    def contains(self, t: time) -> bool:
        return self.start <= t < self.end


KIOSK_HOURS = Hours(time(6, 30), time(23, 0))
"""R6.4, R7.2: kiosks work 6:30–23:00."""


@dataclass(frozen=True)
class Closures:
    """Days without certificate work (R5.8)."""

    annual: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = ()
    monthly: tuple[str, ...] = ()
    dates: frozenset[date] = frozenset()

    def reason(self, day: date) -> tuple[str, str] | None:
        """(Japanese, English) reason ``day`` is closed, or ``None``."""
        if day in self.dates:
            return ("システムメンテナンス日のため手続きできません。",
                    "announced system maintenance day")
        md = (day.month, day.day)
        for start, end in self.annual:
            inside = start <= md <= end if start <= end else (md >= start or md <= end)
            if inside:
                return ("年末年始のため手続きできません。", "year-end closure")
        if "sunday-after-third-saturday" in self.monthly and day.weekday() == 6 \
                and 15 <= (day - timedelta(days=1)).day <= 21:
            return ("第3土曜日の翌日の日曜日はシステムが稼動していないため手続きできません。",
                    "the Sunday after the third Saturday (system maintenance)")
        return None


@dataclass(frozen=True)
class Office:
    """A counter (窓口) and its certificate-work hours."""

    id: str
    name_ja: str
    name_en: str
    weekdays: Hours | None
    weekends_holidays: Hours | None = None
    closures: Closures = Closures()

    def hours_on(self, day: date) -> Hours | None:
        """R5.8: the hours on ``day``, or ``None`` when closed."""
        if self.closures.reason(day):
            return None
        if day.weekday() >= 5 or jpholiday.is_holiday(day):
            return self.weekends_holidays
        return self.weekdays


@dataclass(frozen=True)
class Fees:
    """R3.6, as configured (JPY): issuance and renewal are free; a certificate issued
    together with a paid re-issue of the card (a lost card, a paid replacement) costs
    ``with_paid_card_reissue``."""

    issuance: int = 0
    with_paid_card_reissue: int = 200

    def for_issuance(self, paid_card_reissue: bool) -> int:
        return self.with_paid_card_reissue if paid_card_reissue else self.issuance


@dataclass(frozen=True)
class Calendar:
    """All offices, the kiosk hours and the fees, as loaded from one file."""

    offices: Mapping[str, Office]
    kiosk_hours: Hours = KIOSK_HOURS
    fees: Fees = Fees()

    def office(self, office_id: str) -> Office:
        try:
            return self.offices[office_id]
        except KeyError:
            known = ", ".join(sorted(self.offices))
            raise CalendarConfigError(f"unknown office {office_id!r} (known: {known})") from None


def load_calendar(path: "str | Path | None" = None) -> Calendar:
    """Read a calendar TOML file (the packaged default when ``path`` is ``None``);
    :class:`CalendarConfigError` with a one-line reason if it cannot be used."""
    if path is None:
        text = resources.files("openjpki.rules").joinpath("offices.toml").read_text("utf-8")
        return parse_calendar(text, "offices.toml")
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise CalendarConfigError(f"{path}: cannot read: {e}") from None
    return parse_calendar(text, str(path))


def load_offices(path: "str | Path | None" = None) -> Mapping[str, Office]:
    """The offices of a calendar file by id (see :func:`load_calendar`)."""
    return load_calendar(path).offices


@lru_cache(maxsize=1)
def default_calendar() -> Calendar:
    """The packaged default calendar (read once)."""
    return load_calendar()


def parse_calendar(text: str, source: str = "<calendar>") -> Calendar:
    """Build a :class:`Calendar` from TOML text (see ``offices.toml`` for the layout)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise CalendarConfigError(f"{source}: not valid TOML: {e}") from None
    where = source
    try:
        kiosk = data.get("kiosk", {})
        where = f"{source}: [kiosk]"
        kiosk_hours = _hours(kiosk.get("hours", str(KIOSK_HOURS)))
        where = f"{source}: [closures]"
        common = _closures(data.get("closures", {}))
        where = f"{source}: [fees]"
        fees = _fees(data.get("fees", {}))
        offices: dict[str, Office] = {}
        raw_offices = data.get("offices", {})
        if not isinstance(raw_offices, dict) or not raw_offices:
            raise ValueError("no [offices.<id>] table")
        for oid, raw in raw_offices.items():
            where = f"{source}: [offices.{oid}]"
            offices[oid] = _office(oid, raw, common)
    except CalendarConfigError:
        raise
    except KeyError as e:
        raise CalendarConfigError(f"{where}: missing key {e}") from None
    except (ValueError, TypeError, AttributeError) as e:
        raise CalendarConfigError(f"{where}: {e}") from None
    return Calendar(offices, kiosk_hours, fees)


def _fees(raw: Any) -> Fees:
    if not isinstance(raw, dict):
        raise ValueError("must be a table")
    unknown = set(raw) - {"issuance", "with_paid_card_reissue"}
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    values = {}
    for key in ("issuance", "with_paid_card_reissue"):
        if key in raw:
            v = raw[key]
            if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 100_000:
                raise ValueError(f"{key} must be a whole number of yen (0-100000)")
            values[key] = v
    return Fees(**values)


def _office(oid: str, raw: Any, common: Closures) -> Office:
    if not isinstance(raw, dict):
        raise ValueError("must be a table")
    unknown = set(raw) - {"name_ja", "name_en", "weekdays", "weekends_holidays", "closed_dates"}
    if unknown:
        raise ValueError(f"unknown key(s): {', '.join(sorted(unknown))}")
    weekdays = _hours(raw["weekdays"]) if "weekdays" in raw else None
    weekends = _hours(raw["weekends_holidays"]) if "weekends_holidays" in raw else None
    if weekdays is None and weekends is None:
        raise ValueError("needs weekdays and/or weekends_holidays hours")
    extra = frozenset(_date(d) for d in raw.get("closed_dates", []))
    closures = Closures(common.annual, common.monthly, common.dates | extra)
    return Office(oid, str(raw.get("name_ja", oid)), str(raw.get("name_en", oid)),
                  weekdays, weekends, closures)


def _closures(raw: Any) -> Closures:
    if not isinstance(raw, dict):
        raise ValueError("must be a table")
    annual = []
    for r in raw.get("annual", []):
        annual.append((_month_day(r["from"]), _month_day(r["to"])))
    monthly = tuple(raw.get("monthly", []))
    for m in monthly:
        if m not in MONTHLY_RULES:
            raise ValueError(f"unknown monthly rule {m!r} (known: {', '.join(MONTHLY_RULES)})")
    dates = frozenset(_date(d) for d in raw.get("dates", []))
    return Closures(tuple(annual), monthly, dates)


def _hours(text: Any) -> Hours:
    try:
        a, b = str(text).split("-")
        start, end = _time(a), _time(b)
    except ValueError:
        raise ValueError(f"hours must look like \"08:30-17:15\", not {text!r}") from None
    if not start < end:
        raise ValueError(f"hours {text!r} end before they start")
    return Hours(start, end)


def _time(text: str) -> time:
    h, m = text.strip().split(":")
    return time(int(h), int(m))


def _month_day(text: Any) -> tuple[int, int]:
    try:
        m, d = (int(x) for x in str(text).split("-"))
        date(2024, m, d)  # a leap year, so 02-29 is accepted
    except ValueError:
        raise ValueError(f"expected MM-DD, not {text!r}") from None
    return (m, d)


def _date(value: Any) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"expected a date YYYY-MM-DD, not {value!r}") from None


def next_opening(hours_on, at: datetime) -> datetime | None:
    """The first moment at or after ``at`` inside the hours ``hours_on(day)`` gives
    (``None`` for a closed day), looking :data:`SEARCH_DAYS` ahead."""
    at = to_jst(at)
    day = at.date()
    for i in range(SEARCH_DAYS):
        d = day + timedelta(days=i)
        hours = hours_on(d)
        if hours is None:
            continue
        if i == 0:
            if hours.contains(at.time()):
                return at
            if at.time() >= hours.end:
                continue
        return datetime.combine(d, hours.start, JST)
    return None


def counter_open(office: "Office | str", at: datetime) -> Allowed | Refused:
    """R5.8: is ``office`` doing certificate work at ``at``? Refused with the reason and
    the next opening (``opens_at``, and ``opens_on`` its day). An office id is looked up in
    the default calendar."""
    if isinstance(office, str):
        office = default_calendar().office(office)
    at = to_jst(at)
    hours = office.hours_on(at.date())
    if hours is not None and hours.contains(at.time()):
        return Allowed("R5.8", f"{office.name_ja}は受付中です（本日 {hours}）。",
                       f"{office.name_en} is open (today {hours}).")
    nxt = next_opening(office.hours_on, at)
    closure = office.closures.reason(at.date())
    if closure:
        why_ja, why_en = closure[0], f"Closed today: {closure[1]}."
    elif hours is None:
        why_ja, why_en = "本日は閉庁日です。", "Closed today."
    else:
        why_ja, why_en = f"受付時間外です（本日 {hours}）。", f"Outside today's hours ({hours})."
    return Refused("R5.8", f"{office.name_ja}：{why_ja}{_next_ja(nxt)}",
                   f"{office.name_en}: {why_en}{_next_en(nxt)}",
                   opens_on=nxt.date() if nxt else None, opens_at=nxt)


def kiosk_open(at: datetime, rule: str = "R6.4",
               hours: Hours = KIOSK_HOURS) -> Allowed | Refused:
    """R6.4 (PIN reset) / R7.2 (convenience-store issuance): kiosks work 6:30–23:00 every
    day. Refused outside, with the next opening in ``opens_at``."""
    if rule not in ("R6.4", "R7.2"):
        raise ValueError("kiosk hours are rule R6.4 or R7.2")
    at = to_jst(at)
    if hours.contains(at.time()):
        return Allowed(rule, f"キオスク端末は利用できます（{hours}）。",
                       f"The kiosk is available ({hours}).")
    nxt = next_opening(lambda d: hours, at)
    return Refused(rule, f"キオスク端末の利用時間は{hours}です。{_next_ja(nxt)}",
                   f"Kiosks work {hours} (Japan time).{_next_en(nxt)}",
                   opens_on=nxt.date() if nxt else None, opens_at=nxt)


def _next_ja(nxt: datetime | None) -> str:
    if nxt is None:
        return ""
    return f"次の受付開始は{nxt.year}年{nxt.month}月{nxt.day}日 {nxt:%H:%M}です。"


def _next_en(nxt: datetime | None) -> str:
    return "" if nxt is None else f" Next opening: {nxt:%Y-%m-%d %H:%M} JST."
