"""Helpers for the citizen-side tests: moments, holders with cards issued at the counter,
and the card put in a reader (in process: the holder client talks APDUs to it)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Iterator

from openjpki.card import JpkiClient, VirtualCard
from openjpki.rules import JST
from openjpki.services.counter import Completed, PinEntry, ResidentInput, add_resident
from openjpki.services.counter import issue_new_card

T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)  # a Tuesday, city hall open
PINS = PinEntry(card="1234", sign="ABC123", auth="5678")


def at(day: date, hh: int = 10, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), JST)


@dataclass(frozen=True)
class Holder:
    resident_id: int
    card_id: int
    card_number: str
    virtual_card_id: str
    serials: dict


def holder(ctx, *, name="山田　太郎", birth=date(1980, 5, 15), sex="male",
           address="埼玉県川口市青木二丁目1番1号", now=T0, pins=PINS, **kw) -> Holder:
    """A resident with a new card from the counter (both certificates when 15 or over)."""
    rid = add_resident(ctx, ResidentInput(name=name, address=address, birth_date=birth,
                                          sex=sex, **kw), now)["id"]
    out = issue_new_card(ctx, rid, pins, now=now)
    assert isinstance(out, Completed), out
    return Holder(rid, out.card_id, out.card_number, out.details["virtual_card_id"],
                  {c.kind: c.serial for c in out.issued})


@contextmanager
def in_reader(ctx, h: Holder) -> Iterator[VirtualCard]:
    """The holder's card put into a reader: powered on, answering APDUs."""
    vc = ctx.cards.open(h.virtual_card_id)
    try:
        vc.power_on()
        yield vc
    finally:
        vc.close()


def tries_left(ctx, h: Holder, kind: str) -> int:
    return ctx.cards.status(h.virtual_card_id)["pins"][kind]["tries_left"]


def pin_works(ctx, h: Holder, kind: str, pin: str) -> bool:
    """Does ``pin`` verify on the card (a wrong one uses a try)?"""
    from openjpki.card import WrongPin, PinBlocked
    with in_reader(ctx, h) as vc:
        c = JpkiClient(vc)
        c.select_jpki()
        try:
            c.verify_pin(kind, pin)
        except (WrongPin, PinBlocked):
            return False
        return True


def actions(ctx, resident_id: int) -> list[tuple[str, str | None]]:
    from openjpki.services.audit import trail
    with ctx.store.transaction() as s:
        return [(e["action"], e["payload"].get("rule")) for e in trail(s, f"resident:{resident_id}")]
