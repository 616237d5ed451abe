"""What every counter procedure works with: the store, the authorities, the card store, the
counter's secret box, the municipality and its offices.

``CounterContext.from_settings(settings)`` opens them for an initialised home (CLI, web);
tests build one directly. The context holds no clock: every procedure takes ``now``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional

from openjpki.card import CardStore
from openjpki.rules import to_jst
from openjpki.rules.calendars import (
    Calendar, CalendarConfigError, default_calendar, load_calendar,
)
from openjpki.services.authority import AuthorityService
from openjpki.services.counter.secrets import SecretBox
from openjpki.store import Store

CONFIG_TABLE = "counter"


class ConfigError(Exception):
    """The ``[counter]`` table of the configuration is unusable (one line)."""


@dataclass(frozen=True)
class Municipality:
    """This municipality: its code (全国地方公共団体コード), prefecture and name. SIGN
    certificates name the prefecture and municipality; the SIGN CRL is partitioned by them."""

    code: str = "112038"
    prefecture: str = "埼玉県"
    name: str = "川口市"


@dataclass
class CounterContext:
    store: Store
    authority: AuthorityService
    cards: CardStore
    box: SecretBox
    municipality: Municipality = field(default_factory=Municipality)
    # Office hours and closures (R5.8, rules.calendars). None: no office-hours check (batch
    # work finishing deferred applications, R5.9). A request naming no office is taken at
    # ``default_office``.
    calendar: Optional[Calendar] = None
    default_office: str = "city-hall"
    actor: str = "counter"
    # RSA key generation on cards, certificate writing … (see cardops) can be replaced for
    # tests of failure paths; None uses the real issuing terminal.
    terminal_factory: Any = None
    # The clock of the deferred queue (R5.9): it stamps when an item may run and decides it
    # (the worker's claim, back-off, leases). The real clock in every process of a home
    # (deferred_health.guarded_counter), so that moving the sandbox clock neither strands
    # nor hurries queued work; None: the moment of the request (tests with a fixed clock).
    queue_clock: Any = None
    # The card issuer's RSA key, signing the particulars written to cards (cardfacts);
    # None: a key made once per process (tests).
    issuer_key: Any = None

    def queue_now(self, now: datetime) -> datetime:
        """The queue's now (see ``queue_clock``); ``now`` when it has none."""
        return self.queue_clock() if self.queue_clock is not None else now

    @staticmethod
    def today(now: datetime) -> date:
        """The Japan date of ``now`` (every rule works on Japan dates)."""
        return to_jst(now).date()

    def with_actor(self, actor: str) -> "CounterContext":
        from dataclasses import replace

        return replace(self, actor=actor)

    def notify_status_change(self) -> None:
        """Tell in-process OCSP/CRL caches that certificate statuses changed (the authority
        service does this itself only for changes it commits)."""
        notify = getattr(self.authority, "notify_changed", None) or getattr(
            self.authority, "_notify", None)
        if callable(notify):
            notify()

    @classmethod
    def from_settings(cls, settings: Any, *, actor: str = "counter") -> "CounterContext":
        """The counter of an initialised home (NotInitialised when ``init`` has not run)."""
        from openjpki.services.authority_home import open_authorities

        from openjpki.services.counter.cardfacts import load_or_create_issuer_key

        authority = open_authorities(settings)
        municipality, calendar, default_office = load_counter_config(settings.config_file)
        return cls(store=authority.store, authority=authority,
                   cards=CardStore(settings.cards_dir),
                   box=SecretBox.from_keys_dir(settings.keys_dir),
                   municipality=municipality, calendar=calendar,
                   default_office=default_office, actor=actor,
                   issuer_key=load_or_create_issuer_key(settings.keys_dir))

    def close(self) -> None:
        self.store.dispose()


def load_counter_config(config_file: Path) -> tuple[Municipality, Calendar, str]:
    """``[counter]`` of the home's configuration: ``municipality_code``, ``prefecture``,
    ``municipality`` (default 川口市, 埼玉県), ``calendar`` (a calendar TOML file, see
    ``openjpki/rules/offices.toml``, the default) and ``default_office`` (``city-hall``)."""
    data: dict = {}
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ConfigError(f"{config_file} is not valid TOML: {e}") from None
    table = data.get(CONFIG_TABLE, {})
    if not isinstance(table, dict):
        raise ConfigError(f"[{CONFIG_TABLE}] in {config_file} must be a table")
    d = Municipality()
    municipality = Municipality(
        code=str(table.get("municipality_code", d.code)),
        prefecture=str(table.get("prefecture", d.prefecture)),
        name=str(table.get("municipality", d.name)))
    try:
        calendar_path = table.get("calendar")
        if calendar_path:
            path = Path(calendar_path).expanduser()
            if not path.is_absolute():
                path = config_file.parent / path
            calendar = load_calendar(path)
        else:
            calendar = default_calendar()
        default_office = str(table.get("default_office", "city-hall"))
        calendar.office(default_office)
    except CalendarConfigError as e:
        raise ConfigError(f"[{CONFIG_TABLE}] in {config_file}: {e}") from None
    return municipality, calendar, default_office
