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
           address="埼玉県川口市青木二丁目1番1号", now=T0, pins=PINS, applicant=None,
           **kw) -> Holder:
    """A resident with a new card from the counter (both certificates when 15 or over)."""
    rid = add_resident(ctx, ResidentInput(name=name, address=address, birth_date=birth,
                                          sex=sex, **kw), now)["id"]
    extra = {"applicant": applicant} if applicant is not None else {}
    out = issue_new_card(ctx, rid, pins, now=now, **extra)
    assert isinstance(out, Completed), out
    return Holder(rid, out.card_id, out.card_number, out.details["virtual_card_id"],
                  {c.kind: c.serial for c in out.issued})


def child_holder(ctx, *, name="山田　一郎", birth=date(2012, 6, 1), now=T0) -> Holder:
    """A minor with a card applied for by the parent heading the household (R1.5, R5.3):
    AUTH only when under 15."""
    from openjpki.rules.documents import PhotoId, PresentedId
    from openjpki.services.counter import ApplicantInput

    parent = add_resident(ctx, ResidentInput(name="山田　花子", address="埼玉県川口市青木二丁目1番1号",
                                             birth_date=date(1985, 2, 2), sex="female"), now)
    rep = ApplicantInput(type="legal_representative", representative_id=parent["id"],
                         ids=(PresentedId(PhotoId.DRIVERS_LICENCE, valid_until=date(2031, 1, 1)),))
    return holder(ctx, name=name, birth=birth, now=now, applicant=rep,
                  household_id=parent["household_id"], relationship="child")


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


def pdf_text(path) -> str:
    """The text of a PDF as poppler's pdftotext extracts it (pypdf when poppler is
    missing), with all white space removed so that 山田　太郎 matches across line breaks."""
    import shutil
    import subprocess
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(path), "-"],
                              capture_output=True, text=True, check=True).stdout
    else:
        from pypdf import PdfReader
        text = "".join(page.extract_text() for page in PdfReader(str(path)).pages)
    return "".join(text.split())


def squash(s: str) -> str:
    return "".join(s.split())
