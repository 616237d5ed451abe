"""在留期間の更新: a foreign resident's period of stay is extended (R2.3).

The period of stay is not one of the basic four facts, so nothing is revoked (R4.1 does not
apply). The register keeps the new last day; the holder's active card follows it (a card
of a foreign resident ends with the period of stay, and never later than its own expiry,
R2.5); the certificates keep the expiry they were issued with, and a renewal (R3.1) issued
after the event can reach the new period — which is what the event is for.
"""

from __future__ import annotations

from datetime import date, datetime

from openjpki.rules import card_expiry
from openjpki.services.audit import record
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.queries import cards_of
from openjpki.services.counter.residents import InputError, require_resident, resident_dict
from openjpki.services.register import RegisterResult


def extend_stay(ctx: CounterContext, resident_id: int, stay_until: date,
                now: datetime) -> RegisterResult:
    """Record the new last day of the period of stay of a foreign resident (R2.3)."""
    if not isinstance(stay_until, date):
        raise InputError("the new period of stay must be a date")
    today = ctx.today(now)
    if stay_until < today:
        raise InputError("the new period of stay ends in the past")
    with ctx.store.transaction() as s:
        r = require_resident(s, resident_id, for_update=True)
        if not r.foreign_resident:
            raise InputError(f"resident {r.id} is not a foreign resident (no period of stay)")
        if r.stay_until is not None and stay_until <= r.stay_until:
            raise InputError("nothing changes: the new period of stay must end later than "
                             f"the current one ({r.stay_until.isoformat()})")
        old = r.stay_until
        r.stay_until, r.updated_at = stay_until, now
        cards = []
        for card in cards_of(s, r.id):
            if card.state != "active":
                continue
            own = card_expiry(r.birth_date, card.issued_on)
            new_expiry = min(own, stay_until)
            if new_expiry > card.expires_on:
                cards.append({"card_number": card.card_number,
                              "from": card.expires_on.isoformat(),
                              "to": new_expiry.isoformat()})
                card.expires_on = new_expiry
        s.flush()
        changed = {"stay_until": {"from": old.isoformat() if old else None,
                                  "to": stay_until.isoformat()}}
        record(s, "register.stay_extension", now, actor=ctx.actor,
               subject=f"resident:{r.id}", changed=sorted(changed), cards=cards, rule="R2.3")
        return RegisterResult(
            "stay_extension", resident_dict(r), changed, rule="R2.3",
            message_ja="在留期間の更新を登録しました。電子証明書はそのまま有効です。更新の手続き"
                       "（有効期限の3か月前から）で、新しい在留期間まで有効な電子証明書を発行"
                       "できます。",
            message_en="The extended period of stay is registered. The certificates stay "
                       "valid; a renewal (from three months before they expire) can now reach "
                       "the new period.",
            details={"cards": cards})


__all__ = ["extend_stay"]
