"""The JSON API's response bodies (pydantic), for ``/openapi.json``. The members listed
are always there; later versions may add more (``extra`` is allowed)."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal, Optional

from pydantic import Field

from openjpki.web.api.models import Kind, Open

class Problem(Open):
    """RFC 9457 problem details. Refusals add ``rule``, ``message_ja``, ``message_en`` and,
    when known, ``opens_on``/``opens_at`` (when it can be done) and ``missing`` (what to
    bring); request validation adds ``errors`` (``loc`` names the field)."""

    type: str
    title: str
    status: int
    detail: Optional[str] = None
    instance: Optional[str] = None
    rule: Optional[str] = None
    message_ja: Optional[str] = None
    message_en: Optional[str] = None
    opens_on: Optional[date] = None
    opens_at: Optional[str] = None
    missing: Optional[list[Any]] = None
    errors: Optional[list[dict[str, Any]]] = None


class CertOnCard(Open):
    kind: Kind
    serial: str
    status: str
    reason: Optional[str]
    not_after: date
    expiry_rule: str
    current: bool


class CardOut(Open):
    id: int
    card_number: str
    resident_id: int
    issued_on: date
    expires_on: date
    state: str
    face_up_to_date: bool
    declined: list[Kind]
    virtual_card_id: str = Field(description="Insert it: openjpki card insert ID")
    card_pin_locked: bool
    certificates: list[CertOnCard]


class ResidentOut(Open):
    id: int
    name: str
    name_kana: Optional[str]
    address: str
    birth_date: date
    sex: int
    former_surname: Optional[str]
    alias: Optional[str]
    household_id: str
    relationship: str
    honseki_here: bool
    adult_ward: bool
    foreign_resident: bool
    stay_until: Optional[date]
    postal_code: Optional[str] = None
    municipality_code: str
    prefecture: str
    municipality: str
    on_register: bool


class ResidentDetail(ResidentOut):
    cards: list[CardOut]


class IssuedOut(Open):
    kind: Kind
    serial: str
    not_after: date
    expiry_rule: str


class EndedOut(Open):
    kind: Kind
    serial: str
    status: str
    reason: str
    rule: str


class OfferOut(Open):
    procedure: str
    kinds: list[str]
    rule: str
    message_ja: str
    message_en: str
    first: list[str]


class CompletedOut(Open):
    outcome: Literal["completed"]
    application_id: Optional[int]
    procedure: str
    resident_id: int
    card_id: Optional[int]
    card_number: Optional[str]
    rule: str
    message_ja: str
    message_en: str
    issued: list[IssuedOut]
    ended: list[EndedOut]
    pins_set: list[str]
    offers: list[OfferOut]


class InquiryMailedOut(Open):
    """R5.4: not refused, not finished today: the inquiry form is in the mail."""

    outcome: Literal["inquiry_mailed"]
    rule: str
    message_ja: str
    message_en: str
    application_id: int
    letter_id: int
    reference: str
    restarted: bool
    voided_reference: Optional[str]


class DeferredOut(Open):
    """R5.9: accepted into the queue; ``item_id`` is followed at /api/deferred/{id}."""

    outcome: Literal["deferred"]
    rule: Literal["R5.9"]
    message_ja: str
    message_en: str
    application_id: int
    item_id: int
    procedure: str
    state: Literal["queued"]
    reason: str


class RegisterOut(Open):
    outcome: Literal["registered"]
    event: str
    rule: str
    message_ja: str
    message_en: str


class DeferredItemOut(Open):
    id: int
    application_id: int
    resident_id: int
    procedure: str
    state: Literal["queued", "running", "done", "refused", "failed"]
    reason: str
    attempts: int
    available_at: str
    lease_owner: Optional[str]
    lease_until: Optional[str]
    last_error: Optional[str]
    result: Optional[dict[str, Any]]
    letter_id: Optional[int]
    pins_held: bool = Field(description="The sealed PINs are still kept (wiped when done).")
    created_at: str
    updated_at: str
    completed_at: Optional[str]


class QueueOut(Open):
    counts: dict[str, int]
    items: list[DeferredItemOut]


class ApplicationOut(Open):
    id: int
    resident_id: int
    card_id: Optional[int]
    procedure: str
    applicant_type: str
    kinds: list[str]
    state: str
    office: Optional[str]
    refusal_rule: Optional[str]
    details: dict[str, Any]
    created_at: str
    updated_at: str
    completed_at: Optional[str]
    deferred: Optional[DeferredItemOut] = None


class LetterOut(Open):
    id: int
    kind: str
    reference: str
    state: str
    resident_id: int
    application_id: Optional[int]
    sent_at: str
    payload: dict[str, Any]


class CertificateOut(Open):
    serial: str
    kind: Kind
    status: Literal["good", "revoked", "hold"]
    reason: Optional[str]
    not_after: str
    resident_id: Optional[str]
    pem: str


class AuditReportOut(Open):
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    broken_seq: Optional[int]
    problem: Optional[str]


class AvailabilityOut(Open):
    available: bool
    reason: Optional[str]
    switch: dict[str, Any]
    circuit: Literal["closed", "open", "half-open"]
    consecutive_failures: int
    in_flight: int
    max_in_flight: int
    queue: dict[str, int]
