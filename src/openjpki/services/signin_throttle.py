"""Throttling clerks' password sign-ins so that guessing is slow and nobody else can lock a
clerk out (**Decision**; the seeds set no figures for the municipal staff's own accounts).

Three throttles, each a row of ``sign_in_throttle`` (:mod:`openjpki.store.security`):

- the **pair** of account and client address: after :data:`PAIR_LIMIT` wrong passwords in a
  row from one address, that address may not try the account for :data:`PAIR_LOCK` — the
  lock falls on whoever guesses, the clerk at their own workstation signs in as before;
- the **address**: after :data:`ADDRESS_LIMIT` wrong passwords in a row for any accounts, the
  address may not try any for :data:`ADDRESS_LOCK` (one address trying many names);
- the **account**: beyond :data:`ACCOUNT_FREE` wrong passwords in a row from anywhere, each
  further try waits a delay that doubles up to :data:`ACCOUNT_MAX_DELAY` (many addresses
  guessing one account). An address from which the clerk has signed in before is not held
  by this delay, so even a guess from many addresses cannot lock the clerk out.

Every try is counted **before** the password is checked, in one transaction that holds the
rows (``BEGIN IMMEDIATE`` on SQLite, row locks on PostgreSQL) and raises each counter with
one ``UPDATE … SET failures = failures + 1 … RETURNING``: parallel tries are numbered one
after another, and those past a limit are refused without checking their password. A right
password then clears the pair's and the account's counters and gives back its own count of
the address. Nothing here touches the clerk's API tokens. ``clerk list`` shows the state,
``clerk set NAME --enable`` (or a password change) clears it; both are in the audit log.
Time is the real clock: the sandbox clock is movable and decides nothing here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Optional

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.orm import Session

from openjpki.services.kiosk_card import insert_ignore
from openjpki.store.security import SignInThrottle

PAIR_LIMIT = 5
PAIR_LOCK = timedelta(minutes=15)
ADDRESS_LIMIT = 20
ADDRESS_LOCK = timedelta(minutes=15)
ACCOUNT_FREE = 20
ACCOUNT_MAX_DELAY = timedelta(seconds=60)
LOCAL = "local"  # a sign-in that came over no network (the CLI, a test)


def _address(address: Optional[str]) -> str:
    return (address or LOCAL).strip()[:64] or LOCAL


def account_key(name: str) -> str:
    return f"account:{name}"


def pair_key(name: str, address: Optional[str]) -> str:
    return f"pair:{name}@{_address(address)}"


def address_key(address: Optional[str]) -> str:
    return f"address:{_address(address)}"


@dataclass(frozen=True)
class Charged:
    """The try is counted; ``keys`` are the throttles it was counted on."""

    keys: tuple[str, ...]
    locked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Held:
    """The try is refused unchecked: ``key`` holds it until ``until``."""

    key: str
    until: datetime


def _account_delay(failures: int) -> Optional[timedelta]:
    if failures <= ACCOUNT_FREE:
        return None
    return min(ACCOUNT_MAX_DELAY, timedelta(seconds=2 ** min(failures - ACCOUNT_FREE - 1, 16)))


def charge(s: Session, name: Optional[str], address: Optional[str], now: datetime, *,
           account: bool = True) -> Charged | Held:
    """Count one try. ``name`` None: a name no account could have, only the address counts;
    ``account`` False: no such account — the pair counts as for one (so that holding does
    not tell which names exist), the account's own throttle does not."""
    keys = [address_key(address)]
    if name is not None:
        keys.append(pair_key(name, address))
        if account:
            keys.append(account_key(name))
    for key in keys:
        insert_ignore(s, SignInThrottle.__table__,
                      {"key": key, "failures": 0, "updated_at": now}, ["key"])
    rows = {r.key: r for r in s.execute(
        select(SignInThrottle).where(SignInThrottle.key.in_(keys))
        .with_for_update().execution_options(populate_existing=True)).scalars()}
    known = len(keys) > 1 and rows[keys[1]].signed_in_at is not None
    for key in keys:
        until = rows[key].blocked_until
        if until is not None and until > now and not (known and key.startswith("account:")):
            return Held(key, until)
    locked = []
    for key in keys:
        failures = s.execute(
            update(SignInThrottle).where(SignInThrottle.key == key)
            .values(failures=SignInThrottle.failures + 1, last_failure_at=now, updated_at=now)
            .returning(SignInThrottle.failures)).scalar_one()
        until = _lock_after(key, failures, now)
        if until is not None:
            locked.append(key)
            reset = 0 if not key.startswith("account:") else failures
            s.execute(update(SignInThrottle).where(SignInThrottle.key == key)
                      .values(blocked_until=until, failures=reset))
    return Charged(tuple(keys), tuple(locked))


def _lock_after(key: str, failures: int, now: datetime) -> Optional[datetime]:
    if key.startswith("pair:"):
        return now + PAIR_LOCK if failures >= PAIR_LIMIT else None
    if key.startswith("address:"):
        return now + ADDRESS_LOCK if failures >= ADDRESS_LIMIT else None
    delay = _account_delay(failures)
    return now + delay if delay is not None else None


def signed_in(s: Session, charged: Charged, now: datetime) -> None:
    """A right password: clear the pair and the account, give the address its try back."""
    address, *others = charged.keys
    for key in others:
        values: dict[str, Any] = {"failures": 0, "blocked_until": None, "updated_at": now}
        if key.startswith("pair:"):
            values["signed_in_at"] = now
        s.execute(update(SignInThrottle).where(SignInThrottle.key == key).values(**values))
    s.execute(update(SignInThrottle).where(SignInThrottle.key == address).values(
        failures=case((SignInThrottle.failures > 0, SignInThrottle.failures - 1), else_=0),
        updated_at=now))


def _of_account(name: str):
    return or_(SignInThrottle.key == account_key(name),
               SignInThrottle.key.startswith(f"pair:{name}@", autoescape=True))


@dataclass(frozen=True)
class ThrottleState:
    """What ``clerk list`` shows of an account."""

    failures: int = 0
    delayed_until: Optional[datetime] = None
    locked_addresses: tuple[tuple[str, datetime], ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {"failed_sign_ins": self.failures,
                "delayed_until": self.delayed_until.isoformat() if self.delayed_until else None,
                "locked_addresses": [{"address": a, "until": u.isoformat()}
                                     for a, u in self.locked_addresses]}

    @property
    def held(self) -> bool:
        return self.delayed_until is not None or bool(self.locked_addresses)


def state_of(s: Session, name: str, now: datetime) -> ThrottleState:
    rows = s.execute(select(SignInThrottle).where(_of_account(name))).scalars().all()
    failures, delayed, locked = 0, None, []
    for r in rows:
        live = r.blocked_until is not None and r.blocked_until > now
        if r.key.startswith("account:"):
            failures = r.failures
            delayed = r.blocked_until if live else None
        elif live:
            locked.append((r.key.split("@", 1)[1], r.blocked_until))
    return ThrottleState(failures, delayed, tuple(sorted(locked)))


def clear(s: Session, name: str) -> int:
    """Forget the account's throttles (its pairs and its own); how many rows held a lock or
    failures."""
    rows = s.execute(select(SignInThrottle).where(_of_account(name))).scalars().all()
    n = sum(1 for r in rows if r.failures or r.blocked_until is not None)
    s.execute(delete(SignInThrottle).where(_of_account(name))
              .execution_options(synchronize_session=False))
    return n


__all__ = ["ACCOUNT_FREE", "ADDRESS_LIMIT", "Charged", "Held", "PAIR_LIMIT", "PAIR_LOCK",
           "ThrottleState", "charge", "clear", "signed_in", "state_of"]
