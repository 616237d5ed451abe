"""Deferred counter work (R5.9): when the central system is slow or down, the counter keeps
the card and the sealed PINs, finishes the work later and returns the card by 本人限定郵便.

The counter's front door is :func:`submit`: procedures that need the authorities (issuance,
renewal, the R4.5 re-issue, revocation, hold) are carried out at once when the authorities
are available (:mod:`.deferred_health`), and otherwise accepted into the durable queue by
:func:`defer`. PIN change and PIN reset work on the card alone and are always done at once.

What :func:`defer` writes, in ONE transaction with the application itself (so an
application the resident was told is accepted is never lost):

- the application (``accept_in``: every check a visit makes, its visit and audit entry);
- the checks that need what the resident typed (PIN forms R1.3/R1.6, the resident-registry
  PIN R1.6 against the card), so a queued item does not fail later for a typing error;
- a ``deferred_items`` row with the PINs **sealed**: AES-256-GCM under the counter key
  (``<home>/keys/counter.key``, :class:`~openjpki.services.counter.SecretBox`), with the
  application id as associated data. PINs are never stored in clear, never logged, never
  returned by the API; the sealed copy is wiped when the item is finished.

:mod:`.deferred_worker` completes queued items exactly once.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from openjpki.card import CardInUse, CardStore, CardStoreError, UnknownCard
from openjpki.rules import Allowed, Refused, validate_pin
from openjpki.rules.documents import Procedure
from openjpki.rules.kinds import PinKind
from openjpki.services.audit import record
from openjpki.services.counter import CounterContext, CounterRequest, NO_PINS, PinEntry
from openjpki.services.counter.accept import Intake, accept_in
from openjpki.services.counter.cardpin import check_card_pin
from openjpki.services.counter.procedures import apply
from openjpki.services.counter.residents import NotFound
from openjpki.services.counter.results import Completed, InquiryMailed
from openjpki.services.counter.secrets import SecretBox
from openjpki.services.deferred_health import AuthorityHealth, AuthorityUnavailable
from openjpki.store.counter_models import Application
from openjpki.store.deferred import DeferredItem

# Procedures that need the authorities; the others work on the card alone.
NEEDS_AUTHORITIES = frozenset({Procedure.NEW_ISSUANCE, Procedure.RENEWAL,
                               Procedure.REISSUE_AFTER_CHANGE, Procedure.REVOCATION,
                               Procedure.HOLD})
PIN_FIELDS = ("card", "sign", "auth", "current_sign", "current_auth")


@dataclass(frozen=True)
class Deferred:
    """Accepted into the queue (R5.9): the counter keeps the card and the sealed PINs."""

    application_id: int
    item_id: int
    procedure: str
    reason: str
    decision: Allowed

    outcome: ClassVar[str] = "deferred"
    allowed: ClassVar[bool] = True
    rule: ClassVar[str] = "R5.9"

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome, "allowed": True, "rule": self.rule,
            "message_ja": "中央システムが利用できないため、カードと封をした暗証番号をお預かりし、"
                          "後日処理のうえ本人限定郵便でお送りします。",
            "message_en": "The central system is unavailable: the counter keeps the card and "
                          "the sealed PINs, finishes the work later and sends the card back "
                          "by 本人限定郵便 (restricted delivery).",
            "application_id": self.application_id, "item_id": self.item_id,
            "procedure": self.procedure, "state": "queued", "reason": self.reason,
            "accepted": self.decision.to_dict(),
        }


# --- sealed PINs -----------------------------------------------------------------------------

def _pin_context(application_id: int) -> str:
    return f"deferred:application:{application_id}"


def seal_pins(box: SecretBox, pins: PinEntry, application_id: int) -> bytes:
    given = {k: getattr(pins, k) for k in PIN_FIELDS if getattr(pins, k) is not None}
    return box.seal(json.dumps(given).encode(), _pin_context(application_id))


def open_pins(box: SecretBox, sealed: Optional[bytes], application_id: int) -> PinEntry:
    if not sealed:
        return NO_PINS
    data = json.loads(box.open(sealed, _pin_context(application_id)))
    return PinEntry(**{k: v for k, v in data.items() if k in PIN_FIELDS})


# --- cards made during an attempt that did not commit ---------------------------------------

class TrackingCards:
    """The card store, noting the cards created through it (a new-card issuance), so that an
    attempt which does not commit can take its blank or half-issued card away again."""

    def __init__(self, cards: CardStore) -> None:
        self._cards = cards
        self.created: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cards, name)

    def create(self, card_id: str, *args: Any, **kwargs: Any) -> bytes:
        self.created.append(card_id)
        return self._cards.create(card_id, *args, **kwargs)

    def discard_created(self) -> list[str]:
        gone = [vid for vid in self.created if discard_card(self._cards, vid)]
        self.created.clear()
        return gone


def discard_card(cards: CardStore, card_id: str) -> bool:
    """Remove a card that no record names (made by an attempt that rolled back or was
    killed). Held under the card's lock; a card in use is left alone."""
    directory = cards.directory / card_id
    try:
        vc = cards.open(card_id)
    except UnknownCard:
        if directory.is_dir():  # killed while the card was being made: no state yet
            shutil.rmtree(directory, ignore_errors=True)
            return True
        return False
    except (CardInUse, CardStoreError):
        return False
    try:
        shutil.rmtree(directory, ignore_errors=True)
    finally:
        vc.close()
    return True


def tracked(ctx: CounterContext) -> tuple[CounterContext, TrackingCards]:
    cards = TrackingCards(ctx.cards)
    return replace(ctx, cards=cards), cards  # type: ignore[arg-type]


# --- the front door ----------------------------------------------------------------------------

def needs_authorities(procedure: Procedure | str) -> bool:
    return Procedure(procedure) in NEEDS_AUTHORITIES


def submit(ctx: CounterContext, health: Optional[AuthorityHealth], req: CounterRequest,
           pins: PinEntry = NO_PINS, *, now: datetime):
    """A visit: carried out at once when it can be, deferred (R5.9) when it needs the
    authorities and they are unavailable. Answers Completed, InquiryMailed, Deferred or the
    rules' Refused."""
    if health is None or not needs_authorities(req.procedure):
        return apply(ctx, req, pins, now=now)
    reason = health.unavailable_reason()
    if reason is None:
        attempt, cards = tracked(ctx)
        try:
            return apply(attempt, req, pins, now=now)
        except AuthorityUnavailable as e:
            cards.discard_created()
            reason = e.reason
    return defer(ctx, req, pins, now=now, reason=reason)


def _pin_checks(s: Session, ctx: CounterContext, intake: Intake, req: CounterRequest, pins: PinEntry
                ) -> Refused | None:
    """What :func:`execute_in` would check of the PINs, checked while the resident is at
    the counter: the forms (R1.3, R1.6) and the resident-registry PIN on the card (R1.6)."""
    proc = req.procedure
    if not proc.issues:
        return None
    d = validate_pin(PinKind.CARD, pins.card or "")
    if isinstance(d, Refused):
        return d
    for k in intake.kinds:
        d = validate_pin(PinKind.parse(k), pins.new(k) or "")
        if isinstance(d, Refused):
            return d
    if intake.card is not None:
        d = check_card_pin(ctx, intake.card, pins.card)
        if isinstance(d, Refused):
            return d
    return None


def defer(ctx: CounterContext, req: CounterRequest, pins: PinEntry = NO_PINS, *,
          now: datetime, reason: str) -> "Deferred | InquiryMailed | Refused":
    """Accept ``req`` into the queue (one transaction with the application; see the module
    docstring). A refusal or a voluntary proxy's first visit is answered as at the counter."""
    reason = (reason or "deferred")[:200]
    with ctx.store.transaction() as s:
        intake = accept_in(s, ctx, req, now, pins)
        if not isinstance(intake, Intake):
            return intake
        app = intake.application
        refused = _pin_checks(s, ctx, intake, req, pins)
        if refused is not None:
            app.state, app.refusal_rule, app.updated_at = "refused", refused.rule, now
            record(s, f"counter.{req.procedure.value}.refused", now, actor=ctx.actor,
                   subject=f"resident:{intake.resident.id}", application_id=app.id,
                   rule=refused.rule, stage="deferral")
            return refused
        item = DeferredItem(
            application_id=app.id, resident_id=intake.resident.id,
            procedure=req.procedure.value, state="queued", reason=reason,
            pins_sealed=seal_pins(ctx.box, pins, app.id), attempts=0,
            available_at=ctx.queue_now(now),  # the queue's clock decides (queue_clock)
            created_at=now, updated_at=now)
        s.add(item)
        s.flush()
        app.details = {**(app.details or {}), "deferred": {"item_id": item.id,
                                                           "reason": reason}}
        record(s, "deferred.queued", now, actor=ctx.actor,
               subject=f"resident:{intake.resident.id}", application_id=app.id,
               item_id=item.id, procedure=req.procedure.value, reason=reason,
               card_id=app.card_id)
        return Deferred(app.id, item.id, req.procedure.value, reason, intake.decision)


# --- reading the queue ---------------------------------------------------------------------

def item_dict(item: DeferredItem) -> dict[str, Any]:
    """A queue item as the API and the CLI show it (never the sealed PINs)."""
    iso = lambda t: t.isoformat() if t is not None else None  # noqa: E731
    return {"id": item.id, "application_id": item.application_id,
            "resident_id": item.resident_id, "procedure": item.procedure,
            "state": item.state, "reason": item.reason, "attempts": item.attempts,
            "available_at": iso(item.available_at), "lease_owner": item.lease_owner,
            "lease_until": iso(item.lease_until), "last_error": item.last_error,
            "result": item.result, "letter_id": item.letter_id,
            "pins_held": item.pins_sealed is not None,
            "created_at": iso(item.created_at), "updated_at": iso(item.updated_at),
            "completed_at": iso(item.completed_at)}


def get_item(ctx: CounterContext, item_id: int) -> dict[str, Any]:
    with ctx.store.sessions() as s:
        item = s.get(DeferredItem, item_id)
        if item is None:
            raise NotFound(f"no deferred item {item_id}")
        return item_dict(item)


def list_items(ctx: CounterContext, *, state: Optional[str] = None,
               resident_id: Optional[int] = None, limit: int = 100, offset: int = 0
               ) -> list[dict[str, Any]]:
    stmt = select(DeferredItem).order_by(DeferredItem.id).limit(limit).offset(offset)
    if state is not None:
        stmt = stmt.where(DeferredItem.state == state)
    if resident_id is not None:
        stmt = stmt.where(DeferredItem.resident_id == resident_id)
    with ctx.store.sessions() as s:
        return [item_dict(i) for i in s.execute(stmt).scalars()]


def queue_counts(ctx: CounterContext) -> dict[str, int]:
    with ctx.store.sessions() as s:
        rows = s.execute(select(DeferredItem.state, func.count())
                         .group_by(DeferredItem.state)).all()
    counts = {state: 0 for state in ("queued", "running", "done", "refused", "failed")}
    counts.update({state: n for state, n in rows})
    return counts


def requeue(ctx: CounterContext, item_id: int, *, now: datetime) -> dict[str, Any]:
    """Put a ``failed`` item back in the queue (the operator fixed what made it fail)."""
    from openjpki.services.counter.residents import InputError

    with ctx.store.transaction() as s:
        item = s.get(DeferredItem, item_id, with_for_update=True)
        if item is None:
            raise NotFound(f"no deferred item {item_id}")
        if item.state != "failed":
            raise InputError(f"deferred item {item_id} is {item.state}, not failed")
        item.state, item.available_at, item.updated_at = "queued", ctx.queue_now(now), now
        item.lease_owner = item.lease_until = None
        record(s, "deferred.requeued", now, actor=ctx.actor,
               subject=f"resident:{item.resident_id}", item_id=item.id,
               application_id=item.application_id)
        return item_dict(item)


def application_dict(app: Application) -> dict[str, Any]:
    iso = lambda t: t.isoformat() if t is not None else None  # noqa: E731
    return {"id": app.id, "resident_id": app.resident_id, "card_id": app.card_id,
            "procedure": app.procedure, "applicant_type": app.applicant_type,
            "kinds": [k for k in (app.kinds or "").split(",") if k], "state": app.state,
            "office": app.office, "refusal_rule": app.refusal_rule,
            "details": app.details or {}, "created_at": iso(app.created_at),
            "updated_at": iso(app.updated_at), "completed_at": iso(app.completed_at)}


__all__ = ["Completed", "Deferred", "NEEDS_AUTHORITIES", "TrackingCards", "application_dict",
           "defer", "discard_card", "get_item", "item_dict", "list_items", "needs_authorities",
           "open_pins", "queue_counts", "requeue", "seal_pins", "submit", "tracked"]
