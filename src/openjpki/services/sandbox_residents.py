"""``sandbox resident create --state S [--state S2 …]``: a resident with a card directly in
the states asked for, any combination that can exist, at the sandbox's now.

Made with the demo's builders (the real counter and register services, office hours not
checked), then the sandbox's own state actions. The states (``-`` or ``_`` alike):

| state | how |
|---|---|
| ``valid`` | a new card, both certificates good (alone only) |
| ``renewal_window`` | a foreign resident whose stay ends in 45 days: both certificates end then (R2.3), so renewal is open (R3.1) |
| ``expired`` | issued in the past to a foreign resident whose stay ended two days ago (R2.3); needs authorities at least 3 days older than the sandbox's today |
| ``under_15`` | a 10-year-old, applied for by the parent: AUTH only (R1.5) |
| ``adult_ward`` | applied for by the guardian: AUTH only (R1.5) |
| ``sign_revoked_by_move`` | then 転居: SIGN revoked affiliationChanged (R4.1), AUTH good (R4.2) |
| ``on_hold`` | the live certificates on hold (R4.3) |
| ``revoked`` | the live certificates revoked cessationOfOperation (R4.3) |
| ``card_lost`` | the card ended as lost: the live certificates revoked keyCompromise (R4.4) |
| ``auth_locked`` / ``sign_locked`` | that PIN blocked on the card, tries left 0 (R1.4) |

Every card has the demo's sandbox PINs. Recorded in the audit log (``sandbox.resident.create``).
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Optional

from openjpki.rules.revocation import Reason
from openjpki.services.audit import record
from openjpki.services.counter import ApplicantInput, CounterContext
from openjpki.services.counter.queries import card_dict, card_by_id
from openjpki.services.counter.residents import InputError
# The demo's builders (a resident, a new card through the counter, the guardian's papers).
from openjpki.services.demo import DEMO_PINS, guardian, pins_for, Seeder, weekday_morning
from openjpki.services.demo_postal import synthetic_postal_code
from openjpki.services.sandbox_state import ACTOR, end_card, set_pin_tries

STATES = ("valid", "renewal_window", "expired", "under_15", "adult_ward",
          "sign_revoked_by_move", "on_hold", "revoked", "card_lost", "auth_locked",
          "sign_locked")
NO_SIGN = frozenset({"under_15", "adult_ward"})
NEEDS_SIGN = frozenset({"sign_revoked_by_move", "sign_locked"})
EXCLUSIVE = (frozenset({"expired", "renewal_window"}), frozenset({"under_15", "adult_ward"}),
             frozenset({"on_hold", "revoked", "card_lost"}))
MIN_ROOT_AGE_DAYS = 3
_SURNAMES = ("山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木", "松本", "井上", "木村")
_GIVEN = ("翔", "葵", "陽菜", "蓮", "結衣", "大翔", "凛", "湊", "紬", "樹")


def parse_states(values: Iterable[str]) -> tuple[str, ...]:
    """The states asked for, checked for existence and compatibility (InputError)."""
    states = tuple(dict.fromkeys(v.strip().lower().replace("-", "_") for v in values))
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise InputError(f"unknown state {unknown[0]!r}: one of {', '.join(STATES)}")
    chosen = set(states) or {"valid"}
    if "valid" in chosen and len(chosen) > 1:
        raise InputError("valid is a state of its own: it cannot be combined")
    for group in EXCLUSIVE:
        both = sorted(chosen & group)
        if len(both) > 1:
            raise InputError(f"{' and '.join(both)} cannot be combined")
    if chosen & NO_SIGN and chosen & NEEDS_SIGN:
        raise InputError(f"{sorted(chosen & NO_SIGN)[0]} has no SIGN certificate, so not "
                         f"{sorted(chosen & NEEDS_SIGN)[0]} (R1.5)")
    return tuple(s for s in STATES if s in chosen)


def _root_not_before(ctx: CounterContext) -> datetime:
    return max(ctx.authority.current(k).root.not_valid_before_utc for k in ("sign", "auth"))


def create_resident(ctx: CounterContext, states: Iterable[str], *, now: datetime,
                    name: Optional[str] = None) -> dict[str, Any]:
    """Create one resident with a card in ``states``; the demo's JSON shape for one resident
    (id, name, state, card_id, pins) with the states and the card's certificates."""
    chosen = parse_states(states)
    sd = Seeder(ctx, now)
    sd.ctx = replace(sd.ctx, actor=ACTOR)
    today = sd.today
    m = ctx.municipality
    town = f"{m.prefecture}{m.name}"
    n = secrets.randbelow(9) + 1
    name = name or f"{secrets.choice(_SURNAMES)}　{secrets.choice(_GIVEN)}"
    sign = not (set(chosen) & NO_SIGN)
    person: dict[str, Any] = {}
    applicant = ApplicantInput()
    birth = date(1986, 7, 1)
    at = now
    if "under_15" in chosen:
        household = "SANDBOX-H-" + secrets.token_hex(4)
        sd.resident(f"{name.split('　')[0]}　保護者", date(1980, 1, 1), "female",
                    f"{town}本町{n}丁目{n}番{n}号", now, household_id=household,
                    relationship="head")
        birth = today.replace(year=today.year - 10, day=1)
        person.update(household_id=household, relationship="child")
        applicant = guardian("minor", today)
    if "adult_ward" in chosen:
        birth = date(1950, 9, 9)
        person.update(adult_ward=True)
        applicant = guardian("ward", today)
    if "renewal_window" in chosen:
        person.update(foreign_resident=True, stay_until=today + timedelta(days=45))
    if "expired" in chosen:
        at = _expired_issue_moment(ctx, today)
        person.update(foreign_resident=True,
                      stay_until=min(at.date() + timedelta(days=30), today - timedelta(days=2)))
    rid = sd.resident(name, birth, "female" if n % 2 else "male",
                      f"{town}本町{n}丁目{n}番{n}号", at, **person)
    done = sd.new_card(rid, at, sign=sign, applicant=applicant)
    vid = done.details["virtual_card_id"]
    _after(sd.ctx, chosen, rid, vid, done.card_id, town, now)
    with ctx.store.transaction() as s:
        card = card_by_id(s, done.card_id)
        view = card_dict(s, card)
        record(s, "sandbox.resident.create", now, actor=ACTOR, subject=f"resident:{rid}",
               states=list(chosen), card=done.card_id)
    return {"id": rid, "name": name, "state": "+".join(chosen), "states": list(chosen),
            "card_id": vid, "pins": pins_for(sign), "certificates": view["certificates"],
            "card": {k: view[k] for k in ("card_number", "state", "expires_on")}}


def _expired_issue_moment(ctx: CounterContext, today: date) -> datetime:
    """When to issue a certificate that has expired by ``today``: 300 days back, or just
    after the authorities came to be, if they are younger."""
    from openjpki.rules import JST

    root = _root_not_before(ctx)
    past = weekday_morning(today - timedelta(days=300))
    if past < root:
        past = weekday_morning(root.astimezone(JST).date() + timedelta(days=1))
        while past < root:
            past += timedelta(days=1)
    if past.date() > today - timedelta(days=MIN_ROOT_AGE_DAYS):
        raise InputError(
            f"expired needs authorities at least {MIN_ROOT_AGE_DAYS} days older than the "
            f"sandbox's today ({today}); they date from {root.date()}: move the sandbox clock "
            "on (sandbox time advance 30d) and try again")
    return past


def _after(ctx: CounterContext, chosen: tuple[str, ...], rid: int, vid: str, card_id: int,
           town: str, now: datetime) -> None:
    from openjpki.services.register import move

    if "sign_revoked_by_move" in chosen:
        to = f"{town}栄町三丁目{secrets.randbelow(9) + 1}番3号"
        m = ctx.municipality
        move(ctx, rid, to, now, postal_code=synthetic_postal_code(m.prefecture, m.name, to))
    if "on_hold" in chosen or "revoked" in chosen:
        with ctx.store.transaction() as s:
            for c in _live(s, card_id).values():
                if "on_hold" in chosen:
                    ctx.authority.hold(c.serial, at=now, session=s)
                else:
                    ctx.authority.revoke(c.serial, Reason.CESSATION_OF_OPERATION, at=now,
                                         session=s)
        ctx.notify_status_change()
    if "card_lost" in chosen:
        end_card(ctx, vid, "lost", at=now, now=now)
    for kind in ("auth", "sign"):
        if f"{kind}_locked" in chosen:
            set_pin_tries(ctx, vid, kind, 0, now=now)


def _live(s, card_id: int) -> dict:
    from openjpki.services.counter.queries import current_certificates

    return {k: c for k, c in current_certificates(s, card_id).items() if c.status == "good"}


__all__ = ["DEMO_PINS", "STATES", "create_resident", "parse_states"]
