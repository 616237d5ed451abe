"""The sandbox clock: what "now" is for a sandbox, kept in the store so that every process
(the CLI, ``serve``) agrees.

The services already take time as an argument; the sandbox only changes what the outermost
layer hands them. Three modes (``store.sandbox``): the real clock (default), the real clock
plus an offset (``time set D`` and ``time advance 90d``: time keeps running from there), or a
fixed instant (``time set D --freeze``: it stands still until changed). Nothing here reads
the wall clock: callers pass ``real`` (the wall clock, from the outermost layer).

Every change is recorded in the audit log (action ``sandbox.clock.*``, actor ``sandbox``), at
the new sandbox time, with the real time in the payload.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Optional

from openjpki.rules import JST
from openjpki.services.audit import record
from openjpki.store import Store
from openjpki.store.sandbox import bump_revision, read_settings, settings_row

ACTOR = "sandbox"
_DURATION = re.compile(r"([0-9]+(?:\.[0-9]+)?)([wdhms])")
_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_MAX_SECONDS = 365 * 100 * 86_400
# Beyond this the certificates' time encodings and the rules' calendars stop making sense.
EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)
LATEST = datetime(2999, 12, 31, tzinfo=timezone.utc)


def parse_moment(text: str) -> datetime:
    """A date (``YYYY-MM-DD``: 12:00 Japan time that day, as ``verify --at`` reads it) or an
    ISO date-time (Japan time when it names no zone). ValueError otherwise."""
    value = (text or "").strip()
    try:
        if len(value) == 10:
            moment = datetime.combine(datetime.fromisoformat(value).date(), time(12, 0), JST)
        else:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO date or date-time: {text!r} (e.g. 2030-04-02 or "
                         "2030-04-02T10:00:00+09:00)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=JST)
    _check_range(moment)
    return moment


def format_now(moment: datetime) -> str:
    """How the sandbox shows a moment: ISO 8601 in Japan time, to the second."""
    return moment.astimezone(JST).isoformat(timespec="seconds")


def parse_duration(text: str) -> timedelta:
    """``90d``, ``12h``, ``30m``, ``45s``, ``2w`` or a sum such as ``1d12h``; a leading ``-``
    goes back. ValueError otherwise."""
    value = (text or "").strip().lower().replace(" ", "")
    sign = 1
    if value.startswith(("-", "+")):
        sign = -1 if value[0] == "-" else 1
        value = value[1:]
    parts = _DURATION.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"not a duration: {_short(text)} (use d, h, m, e.g. 90d, 12h, 30m, 1d12h)")
    seconds = 0.0
    for number, unit in parts:
        seconds += float(number) * _SECONDS[unit]
        if seconds > _MAX_SECONDS:  # bounded before timedelta, which overflows on 1e11 days
            raise ValueError(f"{_short(text)} is more than a hundred years")
    return sign * timedelta(seconds=seconds)


def _short(text: object) -> str:
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "…'"


def _check_range(moment: datetime) -> None:
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"{moment.isoformat()} is outside the sandbox's range "
                         f"({EARLIEST.date()} to {LATEST.date()})")


@dataclass(frozen=True)
class ClockSetting:
    """The stored clock: ``mode`` real, offset or fixed."""

    mode: str = "real"
    offset: timedelta = timedelta()
    fixed_at: Optional[datetime] = None
    revision: int = 0

    def now(self, real: datetime) -> datetime:
        """The sandbox's now when the wall clock says ``real``."""
        if self.mode == "fixed" and self.fixed_at is not None:
            return self.fixed_at
        if self.mode == "offset":
            return real + self.offset
        return real

    def to_dict(self, real: datetime) -> dict:
        """``{"now": ISO datetime}`` (CLI.md) and how it is kept."""
        out = {"now": format_now(self.now(real)), "mode": self.mode}
        if self.mode == "offset":
            out["offset_seconds"] = self.offset.total_seconds()
        return out


def setting_from_row(row: Optional[tuple]) -> ClockSetting:
    if row is None:
        return ClockSetting()
    mode, offset_us, fixed_at, revision = row
    return ClockSetting(mode, timedelta(microseconds=offset_us), fixed_at, revision)


def read_clock(store: Store) -> ClockSetting:
    """The stored setting (the real clock when none was ever set)."""
    with store.engine.connect() as conn:
        return setting_from_row(read_settings(conn))


def _change(store: Store, real: datetime, action: str, compute, **payload) -> ClockSetting:
    with store.transaction() as s:
        revision = bump_revision(s, real)  # first: the writers' lock (see store.sandbox)
        row = settings_row(s, real, for_update=True)
        before = setting_from_row((row.clock_mode, row.offset_us, row.fixed_at, row.revision))
        after: ClockSetting = compute(before)
        _check_range(after.now(real))
        row.clock_mode = after.mode
        row.offset_us = after.offset // timedelta(microseconds=1)
        row.fixed_at = after.fixed_at
        s.flush()
        now = after.now(real)
        record(s, action, now, actor=ACTOR, subject="sandbox:clock", mode=after.mode,
               before=before.now(real), now=now, real_at=real, **payload)
    return ClockSetting(after.mode, after.offset, after.fixed_at, revision)


def set_clock(store: Store, moment: datetime, *, real: datetime, freeze: bool = False
              ) -> ClockSetting:
    """``time set``: now becomes ``moment`` (and keeps running, unless ``freeze``)."""
    if moment.tzinfo is None:
        raise ValueError("the sandbox time must be timezone-aware")
    if freeze:
        compute = lambda _b: ClockSetting("fixed", timedelta(), moment)  # noqa: E731
    else:
        compute = lambda _b: ClockSetting("offset", moment - real, None)  # noqa: E731
    return _change(store, real, "sandbox.clock.set", compute, frozen=freeze)


def advance_clock(store: Store, delta: timedelta, *, real: datetime) -> ClockSetting:
    """``time advance``: move now by ``delta`` (negative goes back); a frozen clock stays
    frozen, a running one keeps running."""

    def compute(before: ClockSetting) -> ClockSetting:
        if before.mode == "fixed" and before.fixed_at is not None:
            return ClockSetting("fixed", timedelta(), before.fixed_at + delta)
        offset = (before.offset if before.mode == "offset" else timedelta()) + delta
        return ClockSetting("offset", offset, None)
    return _change(store, real, "sandbox.clock.advance", compute,
                   seconds=delta.total_seconds())


def reset_clock(store: Store, *, real: datetime) -> ClockSetting:
    """``time reset``: back to the real clock."""
    return _change(store, real, "sandbox.clock.reset", lambda _b: ClockSetting())
