"""The expiry-notice batch (有効期限通知書, R3.4): ``openjpki notices run --on D``.

    batch = run_expiry_notices(store, date(2025, 4, 2), now=now, out_dir=home / "letters")
    batch.selected, batch.letters

The holders are selected by one streamed, set-based SELECT (:mod:`notices_select`); then the
cards that come to their own end with no certificate due (:mod:`notices_cards`). For each
card and expiry day one letter is made — the notice and its enclosed inquiry form
(照会書兼回答書兼委任状), a PDF with Japanese fonts (:mod:`letters_pdf_notice`) — in one
short transaction that first claims its certificates in ``expiry_notices``: INSERT … ON
CONFLICT (serial) DO NOTHING. The unique serial is what makes a rerun, or a second batch
running at the same moment, send nobody a second notice: whichever inserts first sends; the
other finds the row (PostgreSQL makes it wait for the first one's commit) and skips. The
letter is also recorded in the counter's ``letters`` (kind ``expiry_notice``, with the
reference printed on it) and in the audit log; a failure rolls all of it back and removes the
file, so a claim never exists without its letter.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable

from sqlalchemy.orm import Session

from openjpki.services.audit import record
from openjpki.services.counter.letters import new_reference
from openjpki.services.kiosk_card import insert_ignore
from openjpki.services.letters_pdf import write_pdf
from openjpki.services.letters_pdf_notice import NoticeItem, NoticeLetter, render_expiry_notice
from openjpki.services.notices_cards import CARD_KIND, DueCard, card_claim_key, stream_cards_due
from openjpki.services.notices_select import (
    DueNotice, count_due, group_notices, notice_window, stream_due, tune_for_batch, untune,
)
from openjpki.store import Store
from openjpki.store.citizen_models import ExpiryNotice
from openjpki.store.counter_models import Letter

ACTOR = "notice-batch"
KIND = "expiry_notice"


@dataclass
class NoticeBatch:
    """What one run did. ``selected``: the notices (letters) this run sent; ``skipped``: due
    ones another batch sent first."""

    on: date
    window: tuple[date, date]
    selected: int = 0
    certificates: int = 0
    skipped: int = 0
    cards: int = 0
    """Of ``selected``, the notices of a card's own expiry with no certificate due
    (:mod:`notices_cards`)."""
    letters: list[Path] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The JSON of ``notices run --json`` (CLI.md: ``{"selected", "letters"}``)."""
        return {"selected": self.selected, "letters": [str(p) for p in self.letters]}


Progress = Callable[[int], None]


def run_expiry_notices(store: Store, on: date, *, now: datetime, out_dir: Path,
                       on_total: Callable[[int], None] | None = None,
                       progress: Progress | None = None) -> NoticeBatch:
    """Send every expiry notice due on ``on`` that was not sent yet (R3.4).

    ``on_total(n)`` is told how many certificates are due before the work starts;
    ``progress(k)`` after each letter with the number of certificates it covered."""
    batch = NoticeBatch(on, notice_window(on))
    folder = Path(out_dir) / "expiry-notices" / on.isoformat()
    with store.engine.connect() as conn:
        tune_for_batch(conn)
        if on_total is not None:
            on_total(count_due(conn, on))
        for notice in group_notices(stream_due(conn, on)):
            path = _send(store, notice, on, now, folder)
            if path is None:
                batch.skipped += 1
            else:
                batch.selected += 1
                batch.certificates += len(notice.certificates)
                batch.letters.append(path)
            if progress is not None:
                progress(len(notice.certificates))
        conn.rollback()  # the read transaction; nothing was written on this connection
        # A new snapshot: the cards told of by the letters just sent are claimed by now.
        for card in list(stream_cards_due(conn, on)):
            path = _send(store, DueNotice(card.card_id, card.expires_on, ()), on, now, folder,
                         card=card)
            batch.skipped += path is None
            if path is not None:
                batch.selected += 1
                batch.cards += 1
                batch.letters.append(path)
        conn.rollback()
        untune(conn)
    return batch


def _send(store: Store, notice: DueNotice, on: date, now: datetime, folder: Path,
          card: DueCard | None = None) -> Path | None:
    """Claim, render, record one letter in one transaction; None when another batch sent it.
    ``card``: a notice of the card's own expiry, with no certificate on it."""
    reference = new_reference("EXP")
    path = folder / f"{reference}.pdf"
    h = card if card is not None else notice.holder
    card_end = h.expires_on if card is not None else _card_end(h, notice.not_after)
    written = False
    try:
        with store.transaction() as s:
            claimed = [c for c in notice.certificates if _claim(s, c, h, notice, on, reference,
                                                                 path, now)]
            told = card_end is not None and _claim_card(s, h, notice.card_id, card_end, on,
                                                        reference, path, now)
            if not claimed and not (card is not None and told):
                return None
            letter = NoticeLetter(
                reference=reference, batch_on=on, name=h.name, address=h.address,
                birth_date=h.birth_date, municipality=h.municipality, prefecture=h.prefecture,
                card_number_tail=h.card_number[-4:],
                items=tuple(NoticeItem(c.kind, c.not_after, c.serial) for c in claimed),
                postal_code=h.postal_code, card_expires_on=card_end)
            write_pdf(path, render_expiry_notice(letter))
            written = True
            s.add(Letter(resident_id=h.resident_id, kind=KIND, reference=reference,
                         state="sent", sent_at=now,
                         payload={"to_name": h.name, "to_address": h.address,
                                  "kinds": [c.kind for c in claimed],
                                  "card_expires_on": card_end and card_end.isoformat(),
                                  "serials": [c.serial for c in claimed],
                                  "not_after": notice.not_after.isoformat(),
                                  "batch_on": on.isoformat(), "path": str(path),
                                  **_titles(bool(claimed))}))
            record(s, "notices.expiry_notice", now, actor=ACTOR,
                   subject=f"resident:{h.resident_id}", card_id=notice.card_id,
                   reference=reference, kinds=[c.kind for c in claimed],
                   not_after=notice.not_after, card_expires_on=card_end, rule="R3.4")
    except BaseException:
        if written:
            path.unlink(missing_ok=True)
        raise
    return path


def _titles(certificates: bool) -> dict:
    if certificates:
        return {"title_ja": "有効期限通知書（照会書兼回答書兼委任状 同封）",
                "title_en": "expiry notice (inquiry form enclosed)"}
    return {"title_ja": "マイナンバーカードの有効期限通知書",
            "title_en": "expiry notice of the card"}


def _card_end(h, not_after: date) -> date | None:
    """The card's own expiry, when the notice must tell of it: the card ends with the
    certificates or within three months after them (001: the お知らせ covers the card)."""
    end = h.card_expires_on
    if end is None or end > not_after + timedelta(days=93):
        return None
    return end


def _claim_card(s: Session, h, card_id: int, card_end: date, on: date, reference: str,
                path: Path, now: datetime) -> bool:
    """The card's expiry told (once per card, whichever letter tells of it first)."""
    return insert_ignore(s, ExpiryNotice.__table__, {
        "serial": card_claim_key(card_id), "kind": CARD_KIND, "resident_id": h.resident_id,
        "card_id": card_id, "not_after": card_end, "batch_on": on, "reference": reference,
        "path": str(path), "sent_at": now}, ["serial"])


def _claim(s: Session, c, h, notice: DueNotice, on: date, reference: str, path: Path,
           now: datetime) -> bool:
    return insert_ignore(s, ExpiryNotice.__table__, {
        "serial": c.serial, "kind": c.kind, "resident_id": h.resident_id,
        "card_id": notice.card_id, "not_after": c.not_after, "batch_on": on,
        "reference": reference, "path": str(path), "sent_at": now}, ["serial"])
