"""The relying party's JSON API under ``/api/rp`` and its sample log-in page ``/rp/sample``
(a web extension: ``install(app)``, or ``create_app(extensions=[install])``).

    POST   /api/rp/challenges          {"purpose": "register"|"login"|"replace"}  → 201 challenge
    POST   /api/rp/registrations       SIGN signature over a register challenge    → 201 registration
    POST   /api/rp/sessions            AUTH signature over a login challenge       → 201 session token
    GET    /api/rp/session             (Bearer) who is logged in
    DELETE /api/rp/session             (Bearer) log out                            → 204
    GET    /api/rp/registrations/{id}  (Bearer) the holder's own registration
    POST   /api/rp/replacements        new SIGN over a replace challenge           → 200 registration

Signatures are base64 (the raw PKCS#1 v1.5 signature ``openjpki client sign`` makes, or a
CMS SignedData); certificates PEM (or base64 DER).  Refusals are RFC 9457 problem responses:
401 bad signature / wrong key / bad challenge, 404 unknown registration, 409 already
registered or nothing to replace, 410 revoked / held / expired / replaced certificate.
"""

from __future__ import annotations

import base64
import binascii
import threading
from pathlib import Path
from typing import Literal, Optional

from fastapi import APIRouter, FastAPI, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from openjpki.services.authority import NotInitialised
from openjpki.services.relying_party import open_relying_party
from openjpki.services.relying_party_accounts import RelyingParty, RpError
from openjpki.web.problems import Problem

router = APIRouter(prefix="/api/rp", tags=["relying party"])
pages = APIRouter(tags=["relying party"], include_in_schema=False)
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates" / "rp"))
_lock = threading.Lock()
MAX_B64 = 200_000


class ChallengeRequest(BaseModel):
    purpose: Literal["register", "login", "replace"]


class SignedRequest(BaseModel):
    challenge_id: str = Field(max_length=64)
    signature: str = Field(max_length=MAX_B64, description="base64 of the raw signature or of a CMS SignedData")
    certificate: Optional[str] = Field(None, max_length=MAX_B64, description="PEM (or base64 DER); optional for CMS")


class RegistrationRequest(SignedRequest):
    auth_signature: Optional[str] = Field(None, max_length=MAX_B64)
    auth_certificate: Optional[str] = Field(None, max_length=MAX_B64)


def relying_party(request: Request) -> RelyingParty:
    app = request.app
    rp = getattr(app.state, "relying_party", None)
    if rp is None:
        with _lock:
            rp = getattr(app.state, "relying_party", None)
            if rp is None:
                ctx = app.state.openjpki
                try:
                    service = ctx.open()
                except NotInitialised as e:
                    raise Problem(503, "Not initialised", str(e)) from None
                rp = open_relying_party(service, ctx.settings.home)
                app.state.relying_party = rp
    return rp


def _now(request: Request):
    return request.app.state.openjpki.clock()


def _b64(value: Optional[str], what: str) -> Optional[bytes]:
    if value is None:
        return None
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Problem(422, "Invalid request", f"{what} is not base64") from None


def _certificate(value: Optional[str]) -> Optional[bytes]:
    if value is None or value.lstrip().startswith("-----BEGIN"):
        return value.encode("ascii", "replace") if value is not None else None
    return _b64(value, "certificate")


def _problem(e: RpError) -> Problem:
    return Problem(e.status, e.title, e.detail, **e.extensions())


def _token(request: Request) -> Optional[str]:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@router.post("/challenges", status_code=201)
def new_challenge(body: ChallengeRequest, request: Request) -> dict:
    """A single-use challenge to sign: with SIGN to register or replace, with AUTH to log in."""
    try:
        return relying_party(request).new_challenge(body.purpose, _now(request))
    except RpError as e:
        raise _problem(e) from None


@router.post("/registrations", status_code=201)
def register(body: RegistrationRequest, request: Request) -> dict:
    """Registration with the SIGN certificate (and optionally the AUTH of the same card)."""
    try:
        return relying_party(request).register(
            body.challenge_id, _b64(body.signature, "signature"), _certificate(body.certificate), _now(request),
            auth_signature=_b64(body.auth_signature, "auth_signature"),
            auth_certificate=_certificate(body.auth_certificate))
    except RpError as e:
        raise _problem(e) from None


@router.post("/sessions", status_code=201)
def login(body: SignedRequest, request: Request) -> dict:
    """Log-in with the AUTH certificate: a Bearer session token."""
    try:
        return relying_party(request).login(body.challenge_id, _b64(body.signature, "signature"),
                                            _certificate(body.certificate), _now(request))
    except RpError as e:
        raise _problem(e) from None


@router.get("/session")
def whoami(request: Request) -> dict:
    try:
        return relying_party(request).session(_token(request), _now(request))
    except RpError as e:
        raise _problem(e) from None


@router.delete("/session", status_code=204)
def logout(request: Request) -> Response:
    relying_party(request).logout(_token(request))
    return Response(status_code=204)


@router.get("/registrations/{registration_id}")
def registration(registration_id: str, request: Request) -> dict:
    try:
        return relying_party(request).registration(registration_id, _token(request), _now(request))
    except RpError as e:
        raise _problem(e) from None


@router.post("/replacements")
def replace(body: SignedRequest, request: Request) -> dict:
    """After a move (R4.1) or a renewal (R3.7): the holder's new SIGN replaces the old one."""
    try:
        return relying_party(request).replace(body.challenge_id, _b64(body.signature, "signature"),
                                              _certificate(body.certificate), _now(request))
    except RpError as e:
        raise _problem(e) from None


# --- the sample page (server-rendered, no JavaScript) -----------------------------------------

@pages.get("/rp/sample", response_class=HTMLResponse)
def sample(request: Request) -> HTMLResponse:
    return templates.TemplateResponse(request, "sample.html", {"step": "start"})


@pages.post("/rp/sample/challenge", response_class=HTMLResponse)
def sample_challenge(request: Request, purpose: str = Form("login")) -> HTMLResponse:
    try:
        challenge = relying_party(request).new_challenge(purpose, _now(request))
    except RpError as e:
        return templates.TemplateResponse(request, "sample.html", {"step": "error", "error": e}, status_code=e.status)
    return templates.TemplateResponse(request, "sample.html", {"step": "sign", "c": challenge})


@pages.post("/rp/sample/submit", response_class=HTMLResponse)
async def sample_submit(request: Request, challenge_id: str = Form(...), purpose: str = Form(...),
                        signature: UploadFile = File(...), certificate: Optional[UploadFile] = File(None)
                        ) -> HTMLResponse:
    from starlette.concurrency import run_in_threadpool

    sig = await signature.read(MAX_B64)
    cert = (await certificate.read(MAX_B64)) if certificate is not None and certificate.filename else None
    sig, cert = _sample_inputs(sig, cert)
    rp = relying_party(request)
    now = _now(request)
    action = {"register": rp.register, "login": rp.login, "replace": rp.replace}.get(purpose)
    try:
        if action is None:
            raise RpError(422, "Unknown purpose", "purpose must be register, login or replace")
        outcome = await run_in_threadpool(action, challenge_id, sig, cert, now)
    except RpError as e:
        return templates.TemplateResponse(request, "sample.html", {"step": "error", "error": e}, status_code=e.status)
    registration = outcome.get("registration", outcome)
    return templates.TemplateResponse(request, "sample.html", {"step": "done", "purpose": purpose,
                                                               "r": registration, "outcome": outcome})


def _sample_inputs(sig: bytes, cert: Optional[bytes]) -> tuple[bytes, Optional[bytes]]:
    """Accept the raw signature file, or the JSON `openjpki client sign --json` prints."""
    if sig.lstrip()[:1] == b"{":
        import json

        try:
            doc = json.loads(sig)
            return base64.b64decode(doc["signature"]), cert or doc.get("certificate", "").encode() or None
        except (ValueError, KeyError, TypeError, binascii.Error):
            return sig, cert
    return sig, cert


def install(app: FastAPI) -> None:
    """Mount the relying party's API and sample page on ``app``."""
    app.include_router(router)
    app.include_router(pages)


rp_extension = install  # for create_app(extensions=[rp_extension]) / APP_EXTENSIONS, like the other parts
