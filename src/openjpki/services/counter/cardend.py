"""The end of a card (R4.4): returned (返納), voided (廃止), lost (紛失) or expired — both
certificates end with it, with the reasons ``rules.revocations_for_card_end`` gives (an
expired card's certificates simply expired with it: nothing is published)."""

from __future__ import annotations

from datetime import datetime

from openjpki.rules import Refused
from openjpki.rules.calendars import counter_open
from openjpki.rules.revocation import CardEnd, revocations_for_card_end
from openjpki.services.audit import record
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.queries import active_card, current_certificates
from openjpki.services.counter.residents import InputError, require_resident
from openjpki.services.counter.results import Completed, EndedCertificate


def end_card(ctx: CounterContext, resident_id: int, end: CardEnd | str, *, now: datetime,
             office: str | None = None) -> Completed | Refused:
    """R4.4: the holder's active card ends; its live certificates are revoked with it."""
    try:
        end = CardEnd(end)
    except ValueError:
        names = ", ".join(e.value for e in CardEnd)
        raise InputError(f"unknown card end {end!r} ({names})") from None
    if ctx.calendar is not None and end is not CardEnd.EXPIRED:
        try:
            hours = counter_open(ctx.calendar.office(office or ctx.default_office), now)
        except ValueError as e:
            raise InputError(str(e)) from None
        if isinstance(hours, Refused):
            return hours
    ended: list[EndedCertificate] = []
    with ctx.store.transaction() as s:
        r = require_resident(s, resident_id, for_update=True)
        card = active_card(s, r.id, for_update=True)
        if card is None:
            raise InputError(f"resident {r.id} has no active card")
        current = current_certificates(s, card.id)
        for e in revocations_for_card_end(end):
            c = current.get(e.kind.value)
            if c is None or c.status == "revoked" or e.reason is None:
                continue
            rec = ctx.authority.revoke(c.serial, e.reason.value, at=now, session=s)
            ended.append(EndedCertificate(e.kind.value, c.serial, rec.status, rec.reason or "",
                                          e.rule))
        card.state, card.state_changed_at = end.value, now
        s.flush()
        record(s, f"counter.card_{end.value}", now, actor=ctx.actor,
               subject=f"resident:{r.id}", card_id=card.id,
               ended=[x.to_dict() for x in ended], rule="R4.4")
        result = Completed(
            None, f"card_{end.value}", r.id, card.id, card.card_number, rule="R4.4",
            message_ja=f"カードは{end.ja}として終了しました。電子証明書も終了します。",
            message_en=f"The card has ended ({end.en}); its certificates end with it.",
            ended=tuple(ended), details={"card_state": end.value})
    if ended:
        ctx.notify_status_change()
    return result
