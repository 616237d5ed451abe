"""What a counter procedure answers, besides the rules' own :class:`Refused`.

- :class:`Completed`: the work is done (certificates issued or ended, PINs set);
- :class:`InquiryMailed`: a voluntary proxy's application waits for the inquiry form's
  answer (R5.4 visit 1, or visit 2 with PINs that did not match);
- :class:`Accepted`: checked and recorded, to be carried out later (R5.9).

Every result has ``outcome`` and ``to_dict()`` (JSON-ready, the shape the CLI prints with
``--json`` and the API returns). None of them ever holds a PIN or a secret.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, ClassVar, Union

from openjpki.rules import Allowed, Refused, SecondVisit


@dataclass(frozen=True)
class IssuedCertificate:
    kind: str
    serial: str
    not_after: date
    expiry_rule: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "serial": self.serial,
                "not_after": self.not_after.isoformat(), "expiry_rule": self.expiry_rule}


@dataclass(frozen=True)
class EndedCertificate:
    kind: str
    serial: str
    status: str
    reason: str
    rule: str

    def to_dict(self) -> dict:
        return {"kind": self.kind, "serial": self.serial, "status": self.status,
                "reason": self.reason, "rule": self.rule}


@dataclass(frozen=True)
class Offer:
    """Something the clerk offers in the same visit (R4.5: SIGN re-issue after a change)."""

    procedure: str
    kinds: tuple[str, ...]
    rule: str
    message_ja: str
    message_en: str
    first: tuple[str, ...] = ()
    """Steps needed before it (e.g. ``change_of_particulars`` 記載事項変更, R5.2)."""

    def to_dict(self) -> dict:
        return {"procedure": self.procedure, "kinds": list(self.kinds), "rule": self.rule,
                "message_ja": self.message_ja, "message_en": self.message_en,
                "first": list(self.first)}


@dataclass(frozen=True)
class Completed:
    application_id: int | None
    procedure: str
    resident_id: int
    card_id: int | None
    card_number: str | None
    rule: str
    message_ja: str
    message_en: str
    issued: tuple[IssuedCertificate, ...] = ()
    ended: tuple[EndedCertificate, ...] = ()
    pins_set: tuple[str, ...] = ()
    offers: tuple[Offer, ...] = ()
    details: dict = field(default_factory=dict)

    outcome: ClassVar[str] = "completed"
    allowed: ClassVar[bool] = True

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "application_id": self.application_id,
                "procedure": self.procedure, "resident_id": self.resident_id,
                "card_id": self.card_id, "card_number": self.card_number,
                "rule": self.rule, "message_ja": self.message_ja, "message_en": self.message_en,
                "issued": [c.to_dict() for c in self.issued],
                "ended": [c.to_dict() for c in self.ended],
                "pins_set": list(self.pins_set),
                "offers": [o.to_dict() for o in self.offers], **self.details}


@dataclass(frozen=True)
class InquiryMailed:
    application_id: int
    letter_id: int
    reference: str
    decision: SecondVisit
    restarted: bool = False
    voided_reference: str | None = None

    outcome: ClassVar[str] = "inquiry_mailed"
    allowed: ClassVar[bool] = False

    @property
    def rule(self) -> str:
        return self.decision.rule

    def to_dict(self) -> dict[str, Any]:
        d = self.decision.to_dict()
        d.update({"outcome": self.outcome, "application_id": self.application_id,
                  "letter_id": self.letter_id, "reference": self.reference,
                  "restarted": self.restarted, "voided_reference": self.voided_reference})
        return d


@dataclass(frozen=True)
class Accepted:
    application_id: int
    procedure: str
    decision: Allowed

    outcome: ClassVar[str] = "accepted"
    allowed: ClassVar[bool] = True

    @property
    def rule(self) -> str:
        return self.decision.rule

    def to_dict(self) -> dict[str, Any]:
        d = self.decision.to_dict()
        d.update({"outcome": self.outcome, "application_id": self.application_id,
                  "procedure": self.procedure})
        return d


Outcome = Union[Completed, InquiryMailed, Accepted, Refused]


def outcome_dict(outcome: Outcome) -> dict[str, Any]:
    return outcome.to_dict()
