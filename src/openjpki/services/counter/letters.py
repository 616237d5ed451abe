"""Letters the municipality mails, recorded in the store.

R5.4: after a voluntary proxy's first visit the inquiry form (照会書兼回答書兼委任状) goes to
the holder's registered address by non-forwardable registered mail (転送不要の簡易書留),
with a one-time reference. The proxy's second visit must bring back the form of the live
reference; a restarted inquiry voids the old reference, so an old form is worth nothing.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from openjpki.store.counter_models import Application, Letter
from openjpki.store.residents import Resident

INQUIRY_FORM = "inquiry_form"
EXPIRY_NOTICE = "expiry_notice"  # mailed by the notice batch (services.notices, R3.4)
DELIVERY_REGISTERED_NO_FORWARD = "転送不要の簡易書留"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed back


def new_reference(prefix: str = "INQ") -> str:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    return f"{prefix}-{body[:4]}-{body[4:8]}-{body[8:]}"


def normalise_reference(reference: str) -> str:
    return reference.strip().upper().replace(" ", "")


def mail_inquiry_form(s: Session, r: Resident, app: Application, now: datetime) -> Letter:
    """Mail a new inquiry form for ``app``; any earlier live one for it becomes void."""
    s.execute(update(Letter).where(Letter.application_id == app.id, Letter.kind == INQUIRY_FORM,
                                   Letter.state == "sent")
              .values(state="void", closed_at=now))
    letter = Letter(
        resident_id=r.id, application_id=app.id, kind=INQUIRY_FORM,
        reference=new_reference(), state="sent", sent_at=now,
        payload={"to_name": r.name, "to_address": r.address, "to_postal_code": r.postal_code,
                 "delivery": DELIVERY_REGISTERED_NO_FORWARD,
                 "procedure": app.procedure, "kinds": app.kinds,
                 "title_ja": "照会書兼回答書兼委任状",
                 "title_en": "inquiry, answer and letter of attorney"})
    s.add(letter)
    s.flush()
    return letter


def live_inquiry(s: Session, reference: str, *, for_update: bool = False) -> Letter | None:
    """The inquiry form with this reference if it is still live (sent, not void/answered)."""
    stmt = select(Letter).where(Letter.reference == normalise_reference(reference),
                                Letter.kind == INQUIRY_FORM)
    if for_update:
        stmt = stmt.with_for_update()
    letter = s.execute(stmt).scalar_one_or_none()
    return letter if letter is not None and letter.state == "sent" else None


def find_letter(s: Session, reference: str, *, for_update: bool = False) -> Letter | None:
    stmt = select(Letter).where(Letter.reference == normalise_reference(reference))
    if for_update:
        stmt = stmt.with_for_update()
    return s.execute(stmt).scalar_one_or_none()


def letters_of(s: Session, resident_id: int) -> list[Letter]:
    return list(s.execute(select(Letter).where(Letter.resident_id == resident_id)
                          .order_by(Letter.id)).scalars())


def letter_dict(letter: Letter) -> dict:
    return {"id": letter.id, "kind": letter.kind, "reference": letter.reference,
            "state": letter.state, "resident_id": letter.resident_id,
            "application_id": letter.application_id, "sent_at": letter.sent_at.isoformat(),
            "payload": letter.payload}
