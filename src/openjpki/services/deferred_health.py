"""Are the authorities (the central system) reachable and not overloaded? (R5.9)

Three signals, checked before the counter carries out work that needs the authorities:

- **the switch** (``deferred_switches`` row ``authorities``): shared by every process on
  the store. An operator turns it off for announced maintenance, and tests and the sandbox
  use it to make the authorities "unreachable"; while it is off every call of the guarded
  authority raises :class:`AuthorityUnavailable`.
- **a circuit breaker** in the process: ``failure_threshold`` consecutive failures of the
  authorities (a key that cannot be loaded, the authorities' store not answering, calls
  slower than ``slow_call``) open it for ``cooldown`` seconds; then one call is let
  through, and its success closes it again.
- **overload**: at most ``max_in_flight`` calls to the authorities at once in this process;
  an application arriving beyond that is deferred rather than made to wait.

:class:`GuardedAuthority` wraps the :class:`~openjpki.services.authority.AuthorityService`
the counter uses, so the counter's own code needs no change: ``issue``, ``revoke`` and
``hold`` raise :class:`AuthorityUnavailable` instead of working when the authorities are not
to be used. Time for the breaker is a monotonic clock (injectable); no business date
depends on it.
"""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from openjpki.services.audit import record
from openjpki.store import Store
from openjpki.store.deferred import DeferredSwitch

SWITCH = "authorities"


class AuthorityUnavailable(Exception):
    """The authorities cannot be used now (switched off, circuit open, overloaded, or a
    call failed); the counter defers the work (R5.9). ``reason`` is one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Availability:
    available: bool
    reason: Optional[str]
    switch_on: bool
    switch_reason: Optional[str]
    switch_changed_at: Optional[datetime]
    circuit: str  # "closed", "open", "half-open"
    consecutive_failures: int
    in_flight: int
    max_in_flight: int

    def to_dict(self) -> dict:
        return {"available": self.available, "reason": self.reason,
                "switch": {"available": self.switch_on, "reason": self.switch_reason,
                           "changed_at": self.switch_changed_at.isoformat()
                           if self.switch_changed_at else None},
                "circuit": self.circuit, "consecutive_failures": self.consecutive_failures,
                "in_flight": self.in_flight, "max_in_flight": self.max_in_flight}


class AuthorityHealth:
    """The three signals for one process. ``switch_ttl``: how long (seconds) a read of the
    shared switch is reused (it is read at most that often)."""

    def __init__(self, store: Store, *, failure_threshold: int = 3, cooldown: float = 30.0,
                 max_in_flight: int = 8, slow_call: float = 20.0, switch_ttl: float = 0.5,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.failure_threshold = failure_threshold
        self.cooldown = cooldown
        self.max_in_flight = max_in_flight
        self.slow_call = slow_call
        self.switch_ttl = switch_ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: Optional[float] = None
        self._trial = False
        self._in_flight = 0
        self._switch: Optional[tuple[bool, Optional[str], Optional[datetime]]] = None
        self._switch_read_at = float("-inf")

    # --- the shared switch ---------------------------------------------------------------
    def read_switch(self, *, fresh: bool = False) -> tuple[bool, Optional[str], Optional[datetime]]:
        now = self._monotonic()
        if not fresh and self._switch is not None and now - self._switch_read_at < self.switch_ttl:
            return self._switch
        with self.store.sessions() as s:
            row = s.get(DeferredSwitch, SWITCH, populate_existing=True)
            value = (True, None, None) if row is None else (row.available, row.reason,
                                                            row.changed_at)
        self._switch, self._switch_read_at = value, now
        return value

    def set_switch(self, available: bool, *, reason: Optional[str], at: datetime,
                   actor: str = "operator") -> Availability:
        """Turn the authorities on or off for every process on the store (audited)."""
        reason = None if available else (reason or "switched off by the operator")
        with self.store.transaction() as s:
            row = s.execute(select(DeferredSwitch).where(DeferredSwitch.name == SWITCH)
                            .with_for_update()).scalar_one_or_none()
            if row is None:
                row = DeferredSwitch(name=SWITCH, available=available, reason=reason,
                                     changed_at=at, changed_by=actor)
                s.add(row)
            else:
                row.available, row.reason, row.changed_at, row.changed_by = (
                    available, reason, at, actor)
            s.flush()
            record(s, "deferred.authorities_" + ("on" if available else "off"), at,
                   actor=actor, subject="authorities", reason=reason)
        if available:
            self.reset()
        self.read_switch(fresh=True)
        return self.state()

    # --- the breaker -----------------------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial = 0, None, False

    def _circuit(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._monotonic() - self._opened_at >= self.cooldown:
            return "half-open"
        return "open"

    def record_success(self) -> None:
        with self._lock:
            self._failures, self._opened_at, self._trial = 0, None, False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial = False
            if self._failures >= self.failure_threshold or self._opened_at is not None:
                self._opened_at = self._monotonic()

    def unavailable_reason(self) -> Optional[str]:
        """Why the authorities must not be used now, or None when they may be."""
        try:
            on, why, _ = self.read_switch()
        except OperationalError:
            return "the store does not answer"
        if not on:
            return f"authorities offline: {why}"
        with self._lock:
            circuit = self._circuit()
            if circuit == "open":
                return "authorities failing: circuit open"
            if circuit == "half-open" and self._trial:
                return "authorities failing: a trial call is under way"
            if self._in_flight >= self.max_in_flight:
                return "authorities overloaded"
        return None

    def state(self) -> Availability:
        try:
            on, why, at = self.read_switch()
        except OperationalError:
            on, why, at = False, "the store does not answer", None
        reason = self.unavailable_reason()
        with self._lock:
            return Availability(reason is None, reason, on, why, at, self._circuit(),
                                self._failures, self._in_flight, self.max_in_flight)

    @contextmanager
    def call(self) -> Iterator[None]:
        """One call to the authorities: refused at once when they are not to be used;
        counted as a failure when it raises an outage-like error or is too slow."""
        from openjpki.services.authority import NotInitialised
        from openjpki.services.authority_setup import SetupError

        reason = self.unavailable_reason()
        if reason is not None:
            raise AuthorityUnavailable(reason)
        with self._lock:
            if self._circuit() == "half-open":
                self._trial = True
            self._in_flight += 1
        started = self._monotonic()
        try:
            yield
        except (SetupError, NotInitialised, OperationalError) as e:
            self.record_failure()
            raise AuthorityUnavailable(f"authorities failing: {type(e).__name__}") from e
        except AuthorityUnavailable:
            self.record_failure()
            raise
        else:
            if self._monotonic() - started > self.slow_call:
                self.record_failure()
            else:
                self.record_success()
        finally:
            with self._lock:
                self._in_flight -= 1


class GuardedAuthority:
    """The authority service as the counter sees it, behind :class:`AuthorityHealth`.
    Everything but ``issue``, ``revoke`` and ``hold`` passes straight through."""

    def __init__(self, service: Any, health: AuthorityHealth) -> None:
        self._service = service
        self.health = health

    @property
    def service(self) -> Any:
        return self._service

    def __getattr__(self, name: str) -> Any:
        return getattr(self._service, name)

    def issue(self, *args: Any, **kwargs: Any) -> Any:
        with self.health.call():
            return self._service.issue(*args, **kwargs)

    def revoke(self, *args: Any, **kwargs: Any) -> Any:
        with self.health.call():
            return self._service.revoke(*args, **kwargs)

    def hold(self, *args: Any, **kwargs: Any) -> Any:
        with self.health.call():
            return self._service.hold(*args, **kwargs)


def guarded_counter(settings: Any, service: Any = None, *, actor: str = "counter",
                    **health_options: Any) -> tuple[Any, AuthorityHealth]:
    """The counter of an initialised home with its authorities behind the availability
    guard: ``(CounterContext, AuthorityHealth)``. ``service`` reuses an open authority
    service (the web app's, so OCSP and CRL caches hear of status changes)."""
    from openjpki.card import CardStore
    from openjpki.services.authority_home import open_authorities
    from openjpki.services.counter import CounterContext, SecretBox
    from openjpki.services.counter.context import load_counter_config

    service = service or open_authorities(settings)
    municipality, calendar, office = load_counter_config(settings.config_file)
    health = AuthorityHealth(service.store, **health_options)
    ctx = CounterContext(store=service.store, authority=GuardedAuthority(service, health),
                         cards=CardStore(settings.cards_dir),
                         box=SecretBox.from_keys_dir(settings.keys_dir),
                         municipality=municipality, calendar=calendar,
                         default_office=office, actor=actor, queue_clock=_real_now)
    return ctx, health


def _real_now() -> datetime:
    """The deferred queue's clock: real time (see CounterContext.queue_clock)."""
    return datetime.now(timezone.utc)


__all__ = ["Availability", "AuthorityHealth", "AuthorityUnavailable", "GuardedAuthority",
           "SWITCH", "guarded_counter"]
