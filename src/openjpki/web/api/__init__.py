"""The JSON API under ``/api`` (described at ``/openapi.json`` and ``/docs``).

- ``/api/residents`` — the register: add, search, show; ``…/{id}/events/…`` the register
  events (転入, 転居, name, date of birth, sex, 記載事項変更) with their effect on SIGN (R4.1);
  ``…/{id}/letters``, ``…/{id}/certificates``, ``…/{id}/audit``.
- ``/api/counter/…`` — issuance, renewal, sign-reissue, pin-change, pin-reset, revocation,
  hold, proxy/visit-1 and proxy/visit-2 (R5.1, R5.4). 200 done; 202 deferred (R5.9) or
  waiting for the proxy's second visit; refusals as problem responses.
- ``/api/deferred`` — the queue of deferred work and each item;
  ``/api/authorities/availability`` — read or switch the authorities' availability.
- ``/api/applications/{id}``, ``/api/letters``, ``/api/cards/{id}``,
  ``/api/certificates``, ``/api/audit/verify``.

Errors are RFC 9457 problem responses (``application/problem+json``); see
:mod:`openjpki.web.api.errors` for which status each class of refusal gets (409 state,
422 what was brought or typed) and the members they carry (``rule``, ``message_ja``,
``message_en``, ``opens_on``, ``missing``).

``install_api(app)`` adds the API to an app made by :func:`openjpki.web.create_app`;
``serve_extensions()`` is what ``openjpki serve`` adds: the API and the deferred worker,
run in a background thread for the life of the server.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Optional

from fastapi import FastAPI

from openjpki.web.api.state import ApiState


def install_api(app: FastAPI, *, worker: bool = False,
                health_options: Optional[dict] = None,
                worker_options: Optional[dict] = None) -> ApiState:
    """Add the JSON API (once) and, with ``worker``, run the deferred worker while the app
    runs. Returns the API's shared state (``app.state.openjpki_api``)."""
    from openjpki.web.api import routes_counter, routes_records, routes_residents
    from openjpki.web.api.validation import install_validation_handler

    st = getattr(app.state, "openjpki_api", None)
    if st is None:
        st = ApiState(app.state.openjpki, health_options=health_options,
                      worker_options=worker_options, app_state=app.state)
        app.state.openjpki_api = st
        app.include_router(routes_residents.router)
        app.include_router(routes_counter.router)
        app.include_router(routes_records.router)
        install_validation_handler(app)
    if worker and not getattr(app.state, "openjpki_api_worker", False):
        app.state.openjpki_api_worker = True
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: Any) -> AsyncIterator[Any]:
            st.start_worker()
            try:
                async with inner(a) as value:
                    yield value
            finally:
                st.stop_worker()
        app.router.lifespan_context = lifespan
    return st


def api_extension(app: FastAPI) -> None:
    """For ``create_app(extensions=[api_extension])`` / ``APP_EXTENSIONS``: the API only."""
    install_api(app)


def serve_extensions(**worker_options: Any) -> list[Callable[[FastAPI], None]]:
    """What ``openjpki serve`` adds to the app: the API and the deferred worker."""
    return [lambda app: install_api(app, worker=True, worker_options=worker_options)]


__all__ = ["ApiState", "api_extension", "install_api", "serve_extensions"]
