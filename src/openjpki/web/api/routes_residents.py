"""``/api/residents``: the register (add, search, show) and its events (異動), which revoke
SIGN with the change (R4.1) and leave AUTH alone (R4.2)."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from openjpki.web.api.auth import authenticate, counter_for
from openjpki.web.api.errors import guarded, problem_responses
from openjpki.web.api.models import (
    MAX_ID, AddressEventIn, BirthDateEventIn, NameEventIn, ResidentCreate, SexEventIn,
    StayExtensionIn,
    Text,
)
from openjpki.web.api.models_out import (
    CertificateOut, LetterOut, RegisterOut, ResidentDetail, ResidentOut,
)
from openjpki.web.api.state import ApiState

router = APIRouter(prefix="/api/residents", dependencies=[Depends(authenticate)])
ResidentId = Path(ge=1, le=MAX_ID, description="The resident's id.")


def _state(request: Request) -> ApiState:
    return request.app.state.openjpki_api


@router.post("", status_code=201, response_model=ResidentOut, tags=["residents"],
             responses=problem_responses(400, 401, 422, 503))
def create_resident(body: ResidentCreate, request: Request) -> dict:
    """Enter a person on this municipality's register."""
    from openjpki.services.counter import ResidentInput, add_resident

    st = _state(request)
    data = ResidentInput(**body.model_dump())
    return guarded(lambda: add_resident(counter_for(request), data, st.now()))


@router.get("", response_model=list[ResidentOut], tags=["residents"],
            responses=problem_responses(401, 422, 503))
def search_residents(request: Request,
                     name: Optional[Text(200)] = Query(None, description="Part of the name."),
                     on_register: Optional[bool] = None,
                     limit: int = Query(100, ge=1, le=1000)) -> list:
    """Residents, oldest first; ``name`` matches a part of the name."""
    from openjpki.services.counter import find_residents

    st = _state(request)
    return guarded(lambda: find_residents(st.counter(), name=name, on_register=on_register,
                                          limit=limit))


@router.get("/{resident_id}", response_model=ResidentDetail, tags=["residents"],
            responses=problem_responses(401, 404, 422, 503))
def get_resident(request: Request, resident_id: int = ResidentId) -> dict:
    """The resident with their cards and every certificate that was on them."""
    from openjpki.services.counter import show_resident

    st = _state(request)
    return guarded(lambda: show_resident(st.counter(), resident_id))


@router.get("/{resident_id}/letters", response_model=list[LetterOut], tags=["letters"],
            responses=problem_responses(401, 404, 422, 503))
def resident_letters(request: Request, resident_id: int = ResidentId) -> list:
    """What the municipality mailed to the resident (inquiry forms R5.4, cards returned
    after deferred work R5.9 …)."""
    from openjpki.services.counter.letters import letter_dict, letters_of
    from openjpki.services.counter.residents import require_resident

    st = _state(request)

    def run() -> list:
        with st.counter().store.sessions() as s:
            require_resident(s, resident_id)
            return [letter_dict(x) for x in letters_of(s, resident_id)]
    return guarded(run)


@router.get("/{resident_id}/certificates", response_model=list[CertificateOut],
            tags=["certificates"], responses=problem_responses(401, 404, 422, 503))
def resident_certificates(request: Request, resident_id: int = ResidentId) -> list:
    """Every certificate issued to the resident, as ``cert list`` shows them."""
    from openjpki.services.counter import show_resident

    st = _state(request)

    def run() -> list:
        ctx = st.counter()
        show_resident(ctx, resident_id)  # 404 for an unknown resident
        return [r.to_dict() for r in ctx.authority.list(resident_id=str(resident_id))]
    return guarded(run)


@router.get("/{resident_id}/audit", tags=["audit"],
            responses=problem_responses(401, 404, 422, 503))
def resident_audit(request: Request, resident_id: int = ResidentId) -> list[dict]:
    """The audit entries about the resident, oldest first (no PIN or secret is ever in
    them)."""
    from openjpki.services.audit import trail
    from openjpki.services.counter.residents import require_resident

    st = _state(request)

    def run() -> list:
        with st.counter().store.sessions() as s:
            require_resident(s, resident_id)
            return trail(s, f"resident:{resident_id}")
    return guarded(run)


# --- register events ---------------------------------------------------------------------------

def _event(request: Request, call) -> JSONResponse:
    st = _state(request)
    result = guarded(lambda: call(counter_for(request), st.now()))
    body = result if isinstance(result, dict) else result.to_dict()
    return JSONResponse(body)


EVENT = dict(tags=["register"], response_model=RegisterOut,
             responses=problem_responses(400, 401, 404, 422, 503))


@router.post("/{resident_id}/events/move-in", **EVENT)
def move_in(body: AddressEventIn, request: Request, resident_id: int = ResidentId):
    """転入: the person moves into this municipality; SIGN is revoked (R4.1)."""
    from openjpki.services.register import move_in as run

    return _event(request, lambda ctx, now: run(
        ctx, resident_id, body.address, now, household_id=body.household_id,
        relationship=body.relationship, postal_code=body.postal_code))


@router.post("/{resident_id}/events/move", **EVENT)
def move(body: AddressEventIn, request: Request, resident_id: int = ResidentId):
    """転居: a move within the municipality; SIGN is revoked with reason affiliationChanged
    (R4.1), AUTH stays good (R4.2), and a new SIGN is offered in the same visit (R4.5)."""
    from openjpki.services.register import move as run

    return _event(request, lambda ctx, now: run(
        ctx, resident_id, body.address, now, household_id=body.household_id,
        relationship=body.relationship, postal_code=body.postal_code))


@router.post("/{resident_id}/events/name-change", **EVENT)
def name_change(body: NameEventIn, request: Request, resident_id: int = ResidentId):
    """A change of name, 旧氏 or 通称 (R4.1)."""
    from openjpki.services.register import change_name

    return _event(request, lambda ctx, now: change_name(
        ctx, resident_id, now, name=body.name, former_surname=body.former_surname,
        alias=body.alias))


@router.post("/{resident_id}/events/birth-date-correction", **EVENT)
def birth_date_correction(body: BirthDateEventIn, request: Request,
                          resident_id: int = ResidentId):
    """Correction of the date of birth (R4.1)."""
    from openjpki.services.register import correct_birth_date

    return _event(request, lambda ctx, now: correct_birth_date(
        ctx, resident_id, body.birth_date, now))


@router.post("/{resident_id}/events/stay-extension", **EVENT)
def stay_extension(body: StayExtensionIn, request: Request, resident_id: int = ResidentId):
    """在留期間の更新: a foreign resident's period of stay is extended; nothing is revoked,
    the active card follows the new period, and a renewal can reach it (R2.3)."""
    from openjpki.services.register_stay import extend_stay

    return _event(request, lambda ctx, now: extend_stay(ctx, resident_id, body.stay_until, now))


@router.post("/{resident_id}/events/sex-correction", **EVENT)
def sex_correction(body: SexEventIn, request: Request, resident_id: int = ResidentId):
    """Correction of sex (R4.1)."""
    from openjpki.services.register import correct_sex

    return _event(request, lambda ctx, now: correct_sex(ctx, resident_id, body.sex, now))


@router.post("/{resident_id}/events/card-particulars", **EVENT)
def card_particulars(request: Request, resident_id: int = ResidentId):
    """記載事項変更: the card face is rewritten to match the register (R5.2)."""
    from openjpki.services.register import change_card_particulars

    return _event(request, lambda ctx, now: change_card_particulars(ctx, resident_id, now))
