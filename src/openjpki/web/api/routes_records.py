"""The records behind the counter: the deferred queue (R5.9) and the authorities'
availability, applications, letters, cards, certificates, and the audit log's check."""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from openjpki.web.api.auth import authenticate, authorize, caller_of, counter_for
from openjpki.web.api.errors import guarded, problem_responses
from openjpki.web.api.models import MAX_ID, AvailabilityIn, Text
from openjpki.web.api.models_out import (
    ApplicationOut, AuditReportOut, AvailabilityOut, CardOut, CertificateOut,
    DeferredItemOut, LetterOut, QueueOut,
)
from openjpki.web.api.state import ApiState

router = APIRouter(prefix="/api", dependencies=[Depends(authenticate)])
ItemState = Literal["queued", "running", "done", "refused", "failed"]


def _state(request: Request) -> ApiState:
    return request.app.state.openjpki_api


def _id(what: str):
    return Path(ge=1, le=MAX_ID, description=f"The {what}'s id.")


# --- the deferred queue (R5.9) ---------------------------------------------------------------

@router.get("/deferred", response_model=QueueOut, tags=["deferred"],
            responses=problem_responses(401, 422, 503))
def queue(request: Request, state: Optional[ItemState] = None,
          resident_id: Optional[int] = Query(None, ge=1, le=MAX_ID),
          limit: int = Query(100, ge=1, le=1000), offset: int = Query(0, ge=0, le=MAX_ID)
          ) -> dict:
    """Deferred work: counts by state and the items, oldest first (never the PINs)."""
    from openjpki.services.deferred import list_items, queue_counts

    st = _state(request)

    def run() -> dict:
        ctx = st.counter()
        return {"counts": queue_counts(ctx),
                "items": list_items(ctx, state=state, resident_id=resident_id, limit=limit,
                                    offset=offset)}
    return guarded(run)


@router.get("/deferred/{item_id}", response_model=DeferredItemOut, tags=["deferred"],
            responses=problem_responses(401, 404, 422, 503))
def queue_item(request: Request, item_id: int = _id("deferred item")) -> dict:
    """One deferred item: its state, attempts, result and the letter that returned the
    card."""
    from openjpki.services.deferred import get_item

    st = _state(request)
    return guarded(lambda: get_item(st.counter(), item_id))


@router.post("/deferred/{item_id}/requeue", response_model=DeferredItemOut, tags=["deferred"],
             responses=problem_responses(400, 401, 403, 404, 422, 503))
def queue_requeue(request: Request, item_id: int = _id("deferred item")) -> dict:
    """Put a ``failed`` item back in the queue (after the operator fixed the cause; kept for
    a supervisor, R5.9)."""
    from openjpki.services.deferred import requeue

    st = _state(request)
    authorize(request, "requeue_deferred")
    return guarded(lambda: requeue(counter_for(request), item_id, now=st.now()))


def _availability(st: ApiState) -> dict:
    from openjpki.services.deferred import queue_counts

    ctx = st.counter()
    out = st.health.state().to_dict()
    out["queue"] = queue_counts(ctx)
    return out


@router.get("/authorities/availability", response_model=AvailabilityOut, tags=["deferred"],
            responses=problem_responses(401, 503))
def availability(request: Request) -> dict:
    """Whether the counter can reach the authorities now (R5.9): the shared switch, this
    process's circuit breaker and load, and the queue."""
    st = _state(request)
    return guarded(lambda: _availability(st))


@router.put("/authorities/availability", response_model=AvailabilityOut, tags=["deferred"],
            responses=problem_responses(401, 403, 422, 503))
def set_availability(body: AvailabilityIn, request: Request) -> dict:
    """Switch the authorities off (maintenance, or a simulated outage: applications are then
    deferred) or on again (the worker completes the queue), for every process on the
    store (kept for a supervisor, R5.9)."""
    st = _state(request)
    authorize(request, "switch_availability")

    def run() -> dict:
        st.health.set_switch(body.available, reason=body.reason, at=st.now(),
                             actor=caller_of(request).actor)
        return _availability(st)
    return guarded(run)


# --- applications, letters, cards ------------------------------------------------------------

@router.get("/applications/{application_id}", response_model=ApplicationOut,
            tags=["counter"], responses=problem_responses(401, 404, 422, 503))
def application(request: Request, application_id: int = _id("application")) -> dict:
    """An application: its procedure, state and the rule that decided; the deferred item
    when it was deferred."""
    from openjpki.services.counter.residents import NotFound
    from openjpki.services.deferred import application_dict, item_dict
    from openjpki.store.counter_models import Application
    from openjpki.store.deferred import DeferredItem

    st = _state(request)

    def run() -> dict:
        with st.counter().store.sessions() as s:
            app = s.get(Application, application_id)
            if app is None:
                raise NotFound(f"no application {application_id}")
            out = application_dict(app)
            item = s.execute(select(DeferredItem).where(
                DeferredItem.application_id == app.id)).scalar_one_or_none()
            out["deferred"] = item_dict(item) if item is not None else None
            return out
    return guarded(run)


@router.get("/letters", response_model=list[LetterOut], tags=["letters"],
            responses=problem_responses(401, 422, 503))
def letters(request: Request, resident_id: Optional[int] = Query(None, ge=1, le=MAX_ID),
            kind: Optional[Text(20)] = Query(None, description="inquiry_form, card_return, "
                                              "result_notice …"),
            limit: int = Query(100, ge=1, le=1000)) -> list:
    """Letters mailed, newest first."""
    from openjpki.services.counter.letters import letter_dict
    from openjpki.store.counter_models import Letter

    st = _state(request)

    def run() -> list:
        stmt = select(Letter).order_by(Letter.id.desc()).limit(limit)
        if resident_id is not None:
            stmt = stmt.where(Letter.resident_id == resident_id)
        if kind is not None:
            stmt = stmt.where(Letter.kind == kind)
        with st.counter().store.sessions() as s:
            return [letter_dict(x) for x in s.execute(stmt).scalars()]
    return guarded(run)


@router.get("/letters/{letter_id}", response_model=LetterOut, tags=["letters"],
            responses=problem_responses(401, 404, 422, 503))
def letter(request: Request, letter_id: int = _id("letter")) -> dict:
    from openjpki.services.counter.letters import letter_dict
    from openjpki.services.counter.residents import NotFound
    from openjpki.store.counter_models import Letter

    st = _state(request)

    def run() -> dict:
        with st.counter().store.sessions() as s:
            found = s.get(Letter, letter_id)
            if found is None:
                raise NotFound(f"no letter {letter_id}")
            return letter_dict(found)
    return guarded(run)


@router.get("/cards/{card_id}", response_model=CardOut, tags=["residents"],
            responses=problem_responses(401, 404, 422, 503))
def card(request: Request, card_id: int = _id("card")) -> dict:
    """A card with the certificates that were on it (never its secret or PIN hash)."""
    from openjpki.services.counter.queries import card_by_id, card_dict
    from openjpki.services.counter.residents import NotFound

    st = _state(request)

    def run() -> dict:
        with st.counter().store.sessions() as s:
            found = card_by_id(s, card_id)
            if found is None:
                raise NotFound(f"no card {card_id}")
            return card_dict(s, found)
    return guarded(run)


# --- certificates and the audit log ----------------------------------------------------------

@router.get("/certificates", response_model=list[CertificateOut], tags=["certificates"],
            responses=problem_responses(401, 422, 503))
def certificates(request: Request, resident_id: Optional[int] = Query(None, ge=1, le=MAX_ID),
                 status: Optional[Literal["good", "revoked", "hold"]] = None,
                 kind: Optional[Literal["sign", "auth"]] = None,
                 limit: int = Query(100, ge=1, le=1000)) -> list:
    """Certificates the authorities issued, in the shape of ``cert list --json``."""
    st = _state(request)

    def run() -> list:
        rid = str(resident_id) if resident_id is not None else None
        records = st.counter().authority.list(resident_id=rid, status=status, kind=kind)
        return [r.to_dict() for r in records[:limit]]
    return guarded(run)


@router.get("/certificates/{serial}", response_model=CertificateOut, tags=["certificates"],
            responses=problem_responses(401, 404, 422, 503))
def certificate(request: Request,
                serial: str = Path(pattern=r"^[0-9A-Fa-f]{1,40}$",
                                   description="Serial number, hexadecimal.")) -> dict:
    st = _state(request)
    return guarded(lambda: st.counter().authority.get(serial).to_dict())


@router.get("/audit/verify", response_model=AuditReportOut, tags=["audit"],
            responses=problem_responses(401, 503))
def audit_verify(request: Request) -> dict:
    """Recompute the hash chain of the audit log; ``ok`` is false at the first entry that was
    edited, deleted or moved."""
    from openjpki.services.audit import verify

    st = _state(request)
    return guarded(lambda: verify(st.counter().store).as_dict())
