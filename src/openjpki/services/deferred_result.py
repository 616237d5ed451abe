"""What a finished deferred item leaves (R5.9): the application as accepted, ready to be
carried out, and the letter that returns the card (or the result) to the holder."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from openjpki.rules import Allowed, Refused
from openjpki.rules.kinds import CertKind
from openjpki.services.counter.accept import Intake
from openjpki.services.counter.letters import new_reference
from openjpki.services.counter.procedures import request_of
from openjpki.services.counter.queries import card_by_id
from openjpki.store.counter_models import Application, Letter
from openjpki.store.residents import get_resident

CARD_RETURN = "card_return"
RESULT_NOTICE = "result_notice"
DELIVERY_RESTRICTED = "本人限定郵便"
DELIVERY_REGISTERED = "転送不要の簡易書留"


def intake_of(s: Session, app: Application):
    """The application as accepted, ready for execution (as ``procedures.execute``)."""
    req = request_of(app)
    r = get_resident(s, app.resident_id, for_update=True)
    assert r is not None
    card = card_by_id(s, app.card_id, for_update=True) if app.card_id else None
    kinds = tuple(CertKind.parse(k) for k in (app.kinds or "").split(",") if k)
    d = (app.details or {}).get("decision") or {}
    decision = Allowed(d.get("rule", "R5.9"), d.get("message_ja", "受付済み"),
                       d.get("message_en", "Accepted"))
    return Intake(app, r, card, kinds, decision), req


def mail_result(s: Session, app: Application, intake: Intake, outcome, now: datetime
                 ) -> Letter:
    """R5.9: the card goes back to the holder by 本人限定郵便 (restricted delivery: handed
    to the addressee only, on proof of identity), with the result. Without a card to return
    (a lost card's revocation) a notice goes by 転送不要の簡易書留."""
    r = intake.resident
    card = intake.card
    with_card = card is not None and card.state == "active"
    refused = isinstance(outcome, Refused)
    payload = {
        "to_name": r.name, "to_address": r.address,
        "delivery": DELIVERY_RESTRICTED if with_card else DELIVERY_REGISTERED,
        "procedure": app.procedure, "outcome": "refused" if refused else "completed",
        "rule": outcome.rule, "card_number": card.card_number if card is not None else None,
        "title_ja": ("マイナンバーカードの返送（電子証明書の手続き結果）" if with_card
                     else "電子証明書の手続き結果のお知らせ"),
        "title_en": ("Your My Number Card, returned with the result" if with_card
                     else "The result of your certificate procedure"),
        "message_ja": outcome.message_ja, "message_en": outcome.message_en,
    }
    if not refused:
        payload["issued"] = [c.to_dict() for c in outcome.issued]
        payload["ended"] = [c.to_dict() for c in outcome.ended]
    letter = Letter(resident_id=r.id, application_id=app.id,
                    kind=CARD_RETURN if with_card else RESULT_NOTICE,
                    reference=new_reference("RET"), state="sent", sent_at=now,
                    payload=payload)
    s.add(letter)
    s.flush()
    return letter


__all__ = ["CARD_RETURN", "DELIVERY_REGISTERED", "DELIVERY_RESTRICTED", "RESULT_NOTICE",
           "intake_of", "mail_result"]
