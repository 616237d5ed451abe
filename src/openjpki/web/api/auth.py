"""Who calls the JSON API: a clerk's API token (``Authorization: Bearer ojpk_…``) and what
their role allows (services.api_access says when a token is needed; services.clerks.may
what a role may do, for the pages and the API alike).

Every router of the API depends on :func:`authenticate` (declared with FastAPI's
:class:`~fastapi.security.HTTPBearer`, so ``/openapi.json`` and ``/docs`` show the scheme).
It answers

- **401** (``…/problems/unauthorized``, ``WWW-Authenticate: Bearer realm="openjpki"``) when a
  token is needed and none was sent (RFC 6750 §3.1: no error code then), and whenever a
  bearer token was sent that does not work — malformed, unknown, revoked, expired, or its
  clerk disabled (``error="invalid_token"`` with an ``error_description``);
- **503** when the configuration cannot say whether a token is needed (a broken
  ``openjpki.toml``): the API is neither opened nor closed by mistake;

and otherwise keeps the :class:`Caller` (the clerk, or nobody on an open sandbox) for the
route. A route that does something kept for a supervisor calls :func:`authorize` (**403**,
``…/problems/forbidden``), and acts through :func:`counter_for` so that the audit log names
the clerk (``clerk:NAME``), as the pages do. Tokens are never logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from fastapi import Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from openjpki.web.api.errors import PROBLEM_BASE, UNAVAILABLE
from openjpki.web.problems import Problem

if TYPE_CHECKING:
    from openjpki.services.clerks import ClerkView

log = logging.getLogger("openjpki.web.api")
UNAUTHORIZED = PROBLEM_BASE + "unauthorized"
FORBIDDEN = PROBLEM_BASE + "forbidden"
REALM = "openjpki"
SCHEME = "clerkToken"

bearer = HTTPBearer(
    auto_error=False, scheme_name=SCHEME, bearerFormat="ojpk_…",
    description="A clerk's API token, made with `openjpki clerk token create NAME` and sent as "
                "`Authorization: Bearer ojpk_…`; it acts with the clerk's role. Required in "
                "production mode (and in the sandbox with `[api] require_token = true`); an "
                "open sandbox takes requests without one. 401 without a working token, 403 "
                "for an action the clerk's role may not do.")


@dataclass(frozen=True)
class Caller:
    """Who makes the request: a clerk (by their token) or nobody (an open sandbox)."""

    clerk: Optional["ClerkView"] = None
    token_id: Optional[int] = None

    @property
    def actor(self) -> str:
        """How the audit log names the caller (``api`` without a token)."""
        return self.clerk.actor if self.clerk is not None else "api"


ANONYMOUS = Caller()


def _challenge(error: Optional[str] = None, description: Optional[str] = None) -> str:
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description}"'
    return value


def _unauthorized(message_en: str, message_ja: str, *, error: Optional[str] = None) -> Problem:
    return Problem(401, "Unauthorized", message_en, type=UNAUTHORIZED,
                   headers={"WWW-Authenticate": _challenge(error, message_en if error else None)},
                   message_ja=message_ja, message_en=message_en)


def authenticate(request: Request,
                 credentials: Optional[HTTPAuthorizationCredentials] = Security(bearer)
                 ) -> Caller:
    """The router dependency: the caller of this request, or a 401/503 problem. (A plain
    function: FastAPI runs it in the thread pool, where the store may be asked.)"""
    from openjpki.services.api_access import ApiConfigError
    from openjpki.services.clerk_tokens import TokenRefused, authenticate as check
    from openjpki.services.sandbox_mode import ModeConfigError

    st = request.app.state.openjpki_api
    try:
        access = st.access()
    except (ModeConfigError, ApiConfigError) as e:
        raise Problem(503, "Unavailable", str(e), type=UNAVAILABLE) from None
    if credentials is None:
        if access.require_token:
            raise _unauthorized("this API needs a clerk's API token: Authorization: Bearer "
                                "ojpk_… (openjpki clerk token create)",
                                "この API には職員の API トークンが必要です"
                                "（Authorization: Bearer ojpk_…）。")
        request.state.openjpki_caller = ANONYMOUS
        return ANONYMOUS
    from openjpki.web.api.errors import guarded

    result = guarded(lambda: check(st.counter().store, credentials.credentials,
                                   now=st.real_now()))
    if isinstance(result, TokenRefused):
        if result.token_id is not None:
            log.info("API token %d refused: %s", result.token_id, result.why)
        raise _unauthorized(result.description, result.message_ja, error="invalid_token")
    caller = Caller(result.clerk, result.token_id)
    request.state.openjpki_caller = caller
    return caller


def caller_of(request: Request) -> Caller:
    return getattr(request.state, "openjpki_caller", ANONYMOUS)


# What an action kept for a supervisor is called in a 403 (Japanese, English).
_ACTION_NAMES = {
    "requeue_deferred": ("保留処理の再実行", "Requeueing deferred work"),
    "switch_availability": ("認証局の利用可否の切替え", "Switching the authorities' availability"),
}


def _action_name(action: str, applicant_type: Optional[str]) -> tuple[str, str]:
    if action in _ACTION_NAMES:
        return _ACTION_NAMES[action]
    from openjpki.rules.documents import Procedure

    try:
        p = Procedure(action)
        ja, en = p.ja, p.en
    except ValueError:
        ja, en = action, action
    if applicant_type not in (None, "holder"):
        return f"本人以外の申請による{ja}", f"A {en} asked for by someone other than the holder"
    return ja, en


def authorize(request: Request, action: str, *, applicant_type: Optional[str] = None) -> None:
    """403 unless the caller's role may do ``action`` (services.clerks.may, the pages' rule;
    nobody on an open sandbox may do everything, as before tokens)."""
    from openjpki.services.clerks import may

    clerk = caller_of(request).clerk
    if clerk is None or may(clerk, action, applicant_type=applicant_type):
        return
    ja, en = _action_name(action, applicant_type)
    message_en = f"{en} is kept for a supervisor."
    # RFC 6750 §3.1: insufficient_scope, the token's privileges do not reach this.
    raise Problem(403, "Forbidden", f"{message_en} This token's clerk is a {clerk.role}.",
                  type=FORBIDDEN,
                  headers={"WWW-Authenticate": _challenge("insufficient_scope", message_en)},
                  message_ja=f"{ja}は監督者のみが行えます。監督者に依頼してください。",
                  message_en=message_en, action=action, role=clerk.role)


def counter_for(request: Request):
    """The counter context acting as the caller (the audit log's actor)."""
    ctx = request.app.state.openjpki_api.counter()
    caller = caller_of(request)
    return ctx.with_actor(caller.actor) if caller.clerk is not None else ctx
