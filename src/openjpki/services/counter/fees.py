"""The fee of an issuing procedure (R3.6), as the office calendar's ``[fees]`` configures it:
free, or the paid-re-issue amount (200 yen) when the certificates go on a new card that
replaces a lost one or is a paid replacement. A fee taken leaves its receipt line in the
audit log (``counter.fee.received``), from which the clerk's daily report adds them up."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from openjpki.rules import JST
from openjpki.rules.calendars import Fees
from openjpki.services.audit import record
from openjpki.store.audit import AuditEntry
from openjpki.store.counter_models import Card

RECEIPT = "counter.fee.received"


def _replaces_lost_card(s: Session, resident_id: int, new_card_id: int | None) -> bool:
    """The card issued before this one was reported lost (R4.3: lost_card)."""
    prev = s.execute(select(Card.state).where(Card.resident_id == resident_id,
                                              Card.id != (new_card_id or -1))
                     .order_by(Card.id.desc()).limit(1)).scalar_one_or_none()
    return prev == "lost"


def take_fee(s: Session, ctx, intake, req, result, now: datetime):
    """``result`` with ``details["fee"]`` (yen) for an issuing procedure; a receipt line in
    the audit log when the fee is not nothing."""
    if not req.procedure.issues:
        return result
    paid = req.new_card and (req.paid_card_reissue
                             or _replaces_lost_card(s, intake.resident.id, result.card_id))
    fees = ctx.calendar.fees if ctx.calendar is not None else Fees()
    amount = fees.for_issuance(paid)
    if amount:
        record(s, RECEIPT, now, actor=ctx.actor, subject=f"resident:{intake.resident.id}",
               application_id=intake.application.id, amount=amount, currency="JPY",
               office=intake.application.office, reason="card_reissue", rule="R3.6")
    return replace(result, details={**result.details, "fee": amount,
                                    "fee_reason": "card_reissue" if paid else None})


def day_report(ctx, day) -> dict:
    """The fees received on ``day`` (Japan time): each receipt line and the totals, per
    office and in all, from the audit log."""
    start = datetime.combine(day, time(0), JST)
    end = start + timedelta(days=1)
    with ctx.store.sessions() as s:
        rows = s.execute(select(AuditEntry).where(
            AuditEntry.action == RECEIPT, AuditEntry.at >= start, AuditEntry.at < end)
            .order_by(AuditEntry.seq)).scalars().all()
        lines = [{"seq": e.seq, "at": e.at, "actor": e.actor, "subject": e.subject,
                  "amount": int(e.payload.get("amount", 0)), "office": e.payload.get("office"),
                  "application_id": e.payload.get("application_id")} for e in rows]
    offices: dict[str, int] = {}
    for line in lines:
        offices[line["office"] or ""] = offices.get(line["office"] or "", 0) + line["amount"]
    return {"day": day, "lines": lines, "offices": offices,
            "total": sum(x["amount"] for x in lines), "count": len(lines)}
