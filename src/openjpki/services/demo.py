"""``openjpki demo``: a municipality with residents whose cards are in every interesting state,
made through the real counter and register services (and an injected earlier moment where a
state needs the past), so relying-party developers can put any of them in the virtual reader
(``openjpki card insert CARD_ID``) and see how their software copes.

| state | how it is made |
|---|---|
| ``valid`` | a new card, both certificates good |
| ``renewal_window`` | a foreign resident whose period of stay ends in 45 days: both certificates end with it (R2.3), so renewal is open (R3.1) |
| ``sign_revoked_by_move`` | a new card, then 転居: SIGN revoked affiliationChanged (R4.1), AUTH good (R4.2) |
| ``auth_locked`` | three wrong AUTH PINs at a PIN change: locked (R1.4) |
| ``on_hold`` | both certificates on hold (R4.3) |
| ``under_15`` | a 10-year-old, applied for by the parent: AUTH only (R1.5) |
| ``adult_ward`` | applied for by the guardian: AUTH only (R1.5) |
| ``expired`` | issued ~300 days ago to a foreign resident whose stay ended 10 days ago (R2.3) |

Every card has the same sandbox PINs (:data:`DEMO_PINS`; a card without SIGN has no SIGN
PIN). Seeding is recorded in the audit log (``demo.seeded``, without PINs): a second run
changes nothing and answers the same residents. The ``expired`` card needs authorities older
than its issue (the demo initialises a fresh home with roots dated 400 days back); on a home
whose roots are newer it is left out, and the answer says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any, Callable, Optional

from sqlalchemy import select

from openjpki.rules import JST, Refused
from openjpki.rules.documents import PhotoId, PresentedId
from openjpki.services.audit import record
from openjpki.services.counter import (
    ApplicantInput, Completed, CounterContext, CounterRequest, PinEntry, ResidentInput,
    add_resident, apply,
)
from openjpki.services.demo_postal import synthetic_postal_code
from openjpki.store.audit import AuditEntry

DEMO_PINS = {"auth": "1234", "sign": "DEMO2025", "card": "2468"}
SEEDED = "demo.seeded"
ROOTS_BACKDATED_DAYS = 400
EXPIRED_ISSUED_DAYS_AGO = 300
STATES = ("valid", "renewal_window", "sign_revoked_by_move", "auth_locked", "on_hold",
          "under_15", "adult_ward", "expired")


class DemoError(Exception):
    """The demo could not be seeded (one line)."""


@dataclass
class DemoResult:
    residents: list[dict[str, Any]]
    created: bool
    notes: list[str] = field(default_factory=list)
    municipality: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The shape ``demo --json`` prints (CLI.md)."""
        return {"residents": self.residents}


def pins_for(sign: bool) -> dict[str, Optional[str]]:
    return {"auth": DEMO_PINS["auth"], "sign": DEMO_PINS["sign"] if sign else None,
            "card": DEMO_PINS["card"]}


def _pin_entry(sign: bool = True) -> PinEntry:
    return PinEntry(card=DEMO_PINS["card"], auth=DEMO_PINS["auth"],
                    sign=DEMO_PINS["sign"] if sign else None)


def existing(ctx: CounterContext) -> Optional[DemoResult]:
    """The residents of an earlier run, if the demo was seeded on this store."""
    with ctx.store.sessions() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == SEEDED)
                          .order_by(AuditEntry.seq.desc()).limit(1)).scalar_one_or_none()
        if entry is None:
            return None
        payload = dict(entry.payload)
    return DemoResult(_answer(payload.get("residents", [])), created=False,
                      notes=list(payload.get("notes", [])))


def _answer(seeded: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**{k: v for k, v in r.items() if k != "sign"},
             "pins": pins_for(bool(r.get("sign", True)))} for r in seeded]


def weekday_morning(day: date) -> datetime:
    """10:00 Japan time on ``day`` or the weekday before it."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, time(10, 0), JST)


class Seeder:
    def __init__(self, ctx: CounterContext, now: datetime) -> None:
        # Seeding is not a visit in office hours: no calendar check (R5.8).
        self.ctx = replace(ctx, calendar=None, actor="demo")
        self.now = now
        self.today = ctx.today(now)
        self.out: list[dict[str, Any]] = []
        self.notes: list[str] = []

    def resident(self, name: str, birth: date, sex: str, address: str, at: datetime,
                 **kw: Any) -> int:
        kw.setdefault("postal_code", self.postal(address))
        return add_resident(self.ctx, ResidentInput(name=name, address=address,
                                                    birth_date=birth, sex=sex, **kw), at)["id"]

    def postal(self, address: str) -> str:
        """A made-up 郵便番号 fitting the address (:mod:`demo_postal`), for the 〒 line."""
        m = self.ctx.municipality
        return synthetic_postal_code(m.prefecture, m.name, address)

    def run(self, req: CounterRequest, pins: PinEntry, at: datetime) -> Completed:
        out = apply(self.ctx, req, pins, now=at)
        if not isinstance(out, Completed):
            raise DemoError(f"seeding {req.procedure.value} for resident {req.resident_id} "
                            f"was refused: {getattr(out, 'rule', '?')} "
                            f"{getattr(out, 'message_en', out)}")
        return out

    def new_card(self, rid: int, at: datetime, *, sign: bool = True,
                 applicant: ApplicantInput = ApplicantInput()) -> Completed:
        return self.run(CounterRequest("new_issuance", rid, new_card=True,
                                       applicant=applicant), _pin_entry(sign), at)

    def add(self, rid: int, name: str, state: str, done: Completed, *, sign: bool = True
            ) -> None:
        self.out.append({"id": rid, "name": name, "state": state,
                         "card_id": done.details["virtual_card_id"], "sign": sign})


def guardian(kind: str, today: date) -> ApplicantInput:
    licence = PresentedId(PhotoId.DRIVERS_LICENCE, valid_until=today + timedelta(days=900))
    proof = ("guardianship_registry_certificate" if kind == "ward"
             else "family_register_certificate")
    return ApplicantInput(type="legal_representative", ids=(licence,), authority_proofs=(proof,))


def seed(ctx: CounterContext, now: datetime, *, root_not_before: Optional[datetime] = None
         ) -> DemoResult:
    """Seed the demo residents (or answer the earlier run's)."""
    found = existing(ctx)
    if found is not None:
        return found
    sd = Seeder(ctx, now)
    m = ctx.municipality
    town = f"{m.prefecture}{m.name}"
    today = sd.today

    def one(name: str, state: str, birth: date, sex: str, street: str,
            after: Optional[Callable[[int, Completed], None]] = None, *, sign: bool = True,
            at: Optional[datetime] = None, applicant: ApplicantInput = ApplicantInput(),
            **kw: Any) -> None:
        when = at or now
        rid = sd.resident(name, birth, sex, f"{town}{street}", when, **kw)
        done = sd.new_card(rid, when, sign=sign, applicant=applicant)
        if after is not None:
            after(rid, done)
        sd.add(rid, name, state, done, sign=sign)

    one("佐藤　一郎", "valid", date(1985, 4, 10), "male", "青木一丁目1番1号")
    one("ジョンソン　エミリー", "renewal_window", date(1990, 8, 20), "female",
        "本町二丁目2番2号", foreign_resident=True, stay_until=today + timedelta(days=45))

    def moved(rid: int, done: Completed) -> None:
        from openjpki.services.register import move
        moved_to = f"{town}栄町三丁目3番3号"
        move(sd.ctx, rid, moved_to, now, postal_code=sd.postal(moved_to))
    one("鈴木　花子", "sign_revoked_by_move", date(1978, 11, 3), "female",
        "幸町一丁目4番4号", moved)

    def locked(rid: int, done: Completed) -> None:
        for _ in range(3):
            out = apply(sd.ctx, CounterRequest("pin_change", rid, kinds=("auth",)),
                        PinEntry(auth="9876", current_auth="0000"), now=now)
            if not isinstance(out, Refused):
                raise DemoError("a wrong AUTH PIN was not refused")
        status = sd.ctx.cards.status(done.details["virtual_card_id"])
        if status["pins"]["auth"]["tries_left"] != 0:
            raise DemoError("the AUTH PIN did not lock after three wrong tries")
    one("高橋　健", "auth_locked", date(1992, 2, 29), "male", "川口五丁目5番5号", locked)

    def held(rid: int, done: Completed) -> None:
        sd.run(CounterRequest("hold", rid), PinEntry(), now)
    one("田中　美咲", "on_hold", date(1988, 6, 30), "female", "西川口六丁目6番6号", held)

    household = "DEMO-H-" + str(int(now.timestamp()))
    sd.resident("伊藤　大輔", date(1982, 3, 3), "male", f"{town}芝七丁目7番7号", now,
                         household_id=household, relationship="head")
    child_birth = date(today.year - 10, 5, 5)
    one("伊藤　さくら", "under_15", child_birth, "female", "芝七丁目7番7号",
        sign=False, applicant=guardian("minor", today), household_id=household,
        relationship="child")
    one("渡辺　正", "adult_ward", date(1950, 9, 9), "male", "安行八丁目8番8号",
        sign=False, applicant=guardian("ward", today), adult_ward=True)

    past = weekday_morning(today - timedelta(days=EXPIRED_ISSUED_DAYS_AGO))
    if root_not_before is not None and root_not_before > past:
        past = weekday_morning(root_not_before.astimezone(JST).date() + timedelta(days=1))
        if past < root_not_before:
            past += timedelta(days=1)
    if past.date() <= today - timedelta(days=3):
        stay = min(past.date() + timedelta(days=30), today - timedelta(days=2))
        one("ガルシア　ルイス", "expired", date(1975, 1, 15), "male", "戸塚九丁目9番9号",
            at=past, foreign_resident=True, stay_until=stay)
    else:
        sd.notes.append("expired: left out — the authorities are too new to have issued a "
                        "certificate that has since expired (seed a fresh home to get it)")

    with sd.ctx.store.transaction() as s:
        record(s, SEEDED, now, actor="demo", subject="demo",
               residents=[dict(r) for r in sd.out], notes=sd.notes)
    return DemoResult(_answer(sd.out), created=True, notes=sd.notes, municipality=town)


__all__ = ["DEMO_PINS", "DemoError", "DemoResult", "STATES", "existing", "seed"]
