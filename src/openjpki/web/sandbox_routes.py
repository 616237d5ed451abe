"""``/api/sandbox/…``: the sandbox controls over HTTP (the same as ``openjpki sandbox …``).

| method and path | does |
|---|---|
| ``GET /api/sandbox`` | the mode, the sandbox's now and the faults switched on |
| ``GET``/``PUT``/``DELETE /api/sandbox/time``, ``POST /api/sandbox/time/advance`` | read, set (``{"now": D, "freeze": false}``), reset, move (``{"by": "90d"}``) the clock → ``{"now": ISO datetime}`` |
| ``GET /api/sandbox/faults``, ``PUT /api/sandbox/faults/ocsp``, ``PUT /api/sandbox/faults/crl``, ``DELETE /api/sandbox/faults`` | responder faults → ``{"ocsp": str, "crl": str}`` |
| ``GET /api/sandbox/cards/{card}``, ``PUT /api/sandbox/cards/{card}/pins/{kind}``, ``POST /api/sandbox/cards/{card}/end`` | a card's PIN tries (0 blocks), the end of a card (R4.4) |
| ``POST /api/sandbox/certificates/{serial}/revoke`` | any reason (certificateHold holds), any date |
| ``POST /api/sandbox/residents``, ``POST /api/sandbox/residents/{id}/facts`` | a resident with a card in given states; a change of facts (register event, R4.1) |

Every route answers 403 (problem ``…/sandbox-mode-only``) unless the service runs in sandbox
mode (services.sandbox_mode). Bad input: 400/422; unknown ids 404; refusals by a rule (R4.3)
409 with the rule.
"""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from openjpki.card.pins import PinId
from openjpki.services.sandbox_mode import MESSAGE_EN, MESSAGE_JA
from openjpki.web.api.errors import guarded, problem_responses
from openjpki.web.api.models import Day
from openjpki.web.problems import Problem

SANDBOX_ONLY = "https://openjpki.github.io/problems/sandbox-mode-only"


def _sandbox(request: Request):
    sb = request.app.state.openjpki_sandbox
    if not sb.mode.sandbox:
        raise Problem(403, "Sandbox mode only",
                      f"{MESSAGE_EN}: this service runs in production mode ({sb.mode.source})",
                      type=SANDBOX_ONLY, mode=sb.mode.name, source=sb.mode.source,
                      message_ja=f"{MESSAGE_JA}（本番モード）。", message_en=f"{MESSAGE_EN}.")
    return sb


_403 = {403: {"description": "Not in sandbox mode (problem …/sandbox-mode-only)."}}
router = APIRouter(prefix="/api/sandbox", tags=["sandbox"], dependencies=[Depends(_sandbox)],
                   responses={**_403, **problem_responses(400, 404, 409, 503)})


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)  # no coercion: 1 is not true


class TimeIn(_In):
    now: str = Field(description="A date (12:00 Japan time) or an ISO date-time (Japan time "
                                 "when it names no zone).", examples=["2030-04-02"])
    freeze: bool = Field(False, description="Stand still at that moment instead of running on.")


class AdvanceIn(_In):
    by: str = Field(description="90d, 12h, 30m, 1d12h; a leading - goes back.", examples=["90d"])


class OcspFaultIn(_In):
    fault: Literal["tryLater", "internalError", "unauthorized", "stale", "delay", "off"]
    delay_ms: int = Field(0, ge=0, le=60_000)
    kind: Optional[Literal["sign", "auth"]] = None
    serial: Optional[str] = Field(None, max_length=64)


class CrlFaultIn(_In):
    fault: Literal["stale", "missing", "unavailable", "off"]
    kind: Optional[Literal["sign", "auth"]] = None


class PinTriesIn(_In):
    tries_left: int = Field(ge=0, le=5, description="0 blocks the PIN (R1.4); the maximum "
                                                    "(AUTH 3, SIGN 5) unblocks it.")


class CardEndIn(_In):
    end: Literal["returned", "voided", "lost", "expired"] = Field(alias="as")
    at: Optional[str] = Field(None, description="When (default now); may be in the past.")


class RevokeIn(_In):
    reason: str = Field(description="RFC 5280 reason name; certificateHold holds.",
                        examples=["affiliationChanged"])
    at: Optional[str] = Field(None, description="revocationDate (default now); may be in the "
                                                "past.")


class ResidentIn(_In):
    states: list[str] = Field(default_factory=list, max_length=11, examples=[["expired", "auth-locked"]])
    name: Optional[str] = Field(None, max_length=100)


class FactsIn(_In):
    address: Optional[str] = Field(None, max_length=200)
    name: Optional[str] = Field(None, max_length=200)
    birth_date: Optional[Day] = None
    sex: Optional[str] = Field(None, max_length=10)


def _moment(text: Optional[str], sb) -> "object":
    from openjpki.services.sandbox_clock import parse_moment

    return sb.now() if text is None else parse_moment(text)


# --- the mode and the clock ---------------------------------------------------------------

@router.get("")
def sandbox_state(sb=Depends(_sandbox)) -> dict:
    """The mode, the sandbox's now and the faults switched on."""
    from openjpki.services.sandbox_clock import format_now
    from openjpki.services.sandbox_faults import fault_summary

    return {**sb.mode.to_dict(), "now": format_now(sb.now()),
            "faults": guarded(lambda: fault_summary(sb.store()))["faults"]}


@router.get("/time")
def get_time(sb=Depends(_sandbox)) -> dict:
    """The sandbox's now: ``{"now": ISO datetime}``."""
    from openjpki.services.sandbox_clock import read_clock

    return guarded(lambda: read_clock(sb.store())).to_dict(sb.real())


def _clock_change(sb, change) -> dict:
    setting = guarded(change)
    sb.changed()
    return setting.to_dict(sb.real())


@router.put("/time")
def set_time(body: TimeIn, sb=Depends(_sandbox)) -> dict:
    """Set the clock to a date or date-time (running on from there, or frozen)."""
    from openjpki.services.sandbox_clock import parse_moment, set_clock

    return _clock_change(sb, lambda: set_clock(sb.store(), parse_moment(body.now),
                                               real=sb.real(), freeze=body.freeze))


@router.post("/time/advance")
def advance_time(body: AdvanceIn, sb=Depends(_sandbox)) -> dict:
    """Move the clock on (or back) by a duration."""
    from openjpki.services.sandbox_clock import advance_clock, parse_duration

    return _clock_change(sb, lambda: advance_clock(sb.store(), parse_duration(body.by),
                                                   real=sb.real()))


@router.delete("/time")
def reset_time(sb=Depends(_sandbox)) -> dict:
    """Back to the real clock."""
    from openjpki.services.sandbox_clock import reset_clock

    return _clock_change(sb, lambda: reset_clock(sb.store(), real=sb.real()))


# --- faults -------------------------------------------------------------------------------

@router.get("/faults")
def get_faults(sb=Depends(_sandbox), kind: Optional[Literal["sign", "auth"]] = None,
               serial: Optional[str] = None) -> dict:
    """``{"ocsp": str, "crl": str}`` at a scope, and every fault switched on."""
    from openjpki.services.sandbox_faults import fault_summary

    return guarded(lambda: fault_summary(sb.store(), kind=kind, serial=serial))


def _fault(sb, responder: str, fault: str, **scope) -> dict:
    from openjpki.services.sandbox_faults import set_fault

    out = guarded(lambda: set_fault(sb.store(), responder, fault, now=sb.now(), **scope))
    sb.changed()
    return out


@router.put("/faults/ocsp")
def ocsp_fault(body: OcspFaultIn, sb=Depends(_sandbox)) -> dict:
    """Switch an OCSP fault on (or ``off``) for every certificate, an authority or one
    serial."""
    return _fault(sb, "ocsp", body.fault, kind=body.kind, serial=body.serial,
                  delay_ms=body.delay_ms)


@router.put("/faults/crl")
def crl_fault(body: CrlFaultIn, sb=Depends(_sandbox)) -> dict:
    """Switch a CRL fault on (or ``off``) for both authorities or one."""
    return _fault(sb, "crl", body.fault, kind=body.kind)


@router.delete("/faults")
def clear_all_faults(sb=Depends(_sandbox)) -> dict:
    """Every fault off."""
    from openjpki.services.sandbox_faults import clear_faults

    out = guarded(lambda: clear_faults(sb.store(), now=sb.now()))
    sb.changed()
    return out


# --- state on demand ----------------------------------------------------------------------

@router.get("/cards/{card}")
def get_card(card: str, sb=Depends(_sandbox)) -> dict:
    """A card, its certificates and its PINs' tries left."""
    from openjpki.services.sandbox_state import card_view

    return guarded(lambda: card_view(sb.counter(), card))


@router.put("/cards/{card}/pins/{kind}")
def set_tries(card: str, kind: PinId, body: PinTriesIn, sb=Depends(_sandbox)) -> dict:
    """Set a PIN's tries left on the card (0 blocks it): any PIN the card holds — ``auth``,
    ``sign``, ``card`` (住民基本台帳用), ``input`` (券面事項入力補助用), 照合番号A/B of either
    application. The card must not be in a reader."""
    from openjpki.services.sandbox_state import set_pin_tries

    return guarded(lambda: set_pin_tries(sb.counter(), card, kind.value, body.tries_left,
                                         now=sb.now()))


@router.post("/cards/{card}/end")
def end(card: str, body: CardEndIn, sb=Depends(_sandbox)) -> dict:
    """The card ends (returned, voided, lost, expired) and its certificates with it (R4.4)."""
    from openjpki.services.sandbox_state import end_card

    return guarded(lambda: end_card(sb.counter(), card, body.end, at=_moment(body.at, sb),
                                    now=sb.now()))


@router.post("/certificates/{serial}/revoke")
def revoke(serial: str, body: RevokeIn, sb=Depends(_sandbox)) -> dict:
    """Revoke with any reason (certificateHold holds) at any date; R4.3 still holds."""
    from openjpki.services.sandbox_state import change_certificate

    return guarded(lambda: change_certificate(sb.counter(), serial, body.reason,
                                              at=_moment(body.at, sb), now=sb.now()))


@router.post("/residents", status_code=201)
def create(body: ResidentIn, sb=Depends(_sandbox)) -> JSONResponse:
    """A resident with a card directly in the given states (any combination that can
    exist): ``{"residents": [{"id", "name", "state", "card_id", "pins", …}]}``."""
    from openjpki.services.sandbox_residents import create_resident

    made = guarded(lambda: create_resident(sb.counter(), body.states, now=sb.now(),
                                           name=body.name))
    return JSONResponse({"residents": [made]}, status_code=201)


@router.post("/residents/{resident_id}/facts")
def facts(resident_id: int, body: FactsIn, sb=Depends(_sandbox)) -> dict:
    """Change facts as register events: a SIGN certificate is revoked (R4.1), AUTH kept."""
    from openjpki.services.sandbox_state import change_facts

    return guarded(lambda: change_facts(sb.counter(), resident_id, now=sb.now(),
                                        address=body.address, name=body.name,
                                        birth_date=body.birth_date, sex=body.sex))
