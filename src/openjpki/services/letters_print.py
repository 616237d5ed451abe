"""Printing a mailed letter again from the counter: the inquiry form of a voluntary proxy's
first visit (R5.4, rendered from its record — the same letter, byte for byte, every time)
and an expiry notice (R3.4, the PDF the batch wrote). Each print leaves an audit entry.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from openjpki.rules import to_jst
from openjpki.services.audit import record
from openjpki.services.counter.letters import INQUIRY_FORM
from openjpki.services.counter.residents import NotFound, require_resident
from openjpki.services.letters_pdf_inquiry import InquiryLetter, render_inquiry_letter
from openjpki.store.counter_models import Letter


def inquiry_letter_of(letter: Letter, resident) -> InquiryLetter:
    payload = letter.payload or {}
    kinds = payload.get("kinds") or ""
    if isinstance(kinds, str):
        kinds = [k for k in kinds.split(",") if k]
    return InquiryLetter(
        reference=letter.reference, sent_on=to_jst(letter.sent_at).date(),
        name=payload.get("to_name") or resident.name,
        address=payload.get("to_address") or resident.address,
        postal_code=payload.get("to_postal_code") or resident.postal_code,
        birth_date=resident.birth_date, prefecture=resident.prefecture,
        municipality=resident.municipality, procedure=payload.get("procedure", "renewal"),
        kinds=tuple(kinds))


def letter_pdf(ctx, letter_id: int, now: datetime) -> tuple[str, bytes]:
    """(file name, PDF bytes) of letter ``letter_id``; NotFound when there is none to print."""
    with ctx.store.transaction() as s:
        letter = s.get(Letter, letter_id)
        if letter is None:
            raise NotFound(f"no letter {letter_id}")
        resident = require_resident(s, letter.resident_id)
        if letter.kind == INQUIRY_FORM:
            data = render_inquiry_letter(inquiry_letter_of(letter, resident))
        else:
            path = Path((letter.payload or {}).get("path") or "")
            if not path.is_file():
                raise NotFound(f"the PDF of letter {letter.reference} is not kept")
            data = path.read_bytes()
        record(s, "counter.letter.printed", now, actor=ctx.actor,
               subject=f"resident:{resident.id}", letter_id=letter.id,
               reference=letter.reference, kind=letter.kind)
        return f"{letter.reference}.pdf", data


__all__ = ["letter_pdf", "inquiry_letter_of"]
