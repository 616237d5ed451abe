"""The sandbox in the running server: its clock, the responder faults, and ``/api/sandbox``.

``create_app(settings, extensions=[sandbox_extension(mode)])`` (what ``openjpki serve``
does). In sandbox mode the extension

- wraps the app's clock (``app.state.openjpki.clock``) in a
  :class:`~openjpki.services.sandbox_live.LiveSandbox`: every request — OCSP, CRLs, the API,
  the pages, the deferred worker — gets the sandbox's now, read from the store (so a change
  made by ``openjpki sandbox time …`` in another process is seen within ``sync_interval``);
  the injected clock stays the source of real time;
- drops the OCSP answers and CRLs cached at another clock position or fault setting whenever
  the sandbox changes;
- installs the fault hooks of the OCSP responder and the CRL routes
  (``WebContext.ocsp_hook`` / ``crl_hook``).

In production mode it changes nothing but the routes, which all answer 403.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import datetime, timedelta
from typing import Callable, Optional

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from openjpki.services.authority import GeneratedCrl
from openjpki.services.authority_ocsp import (
    INTERNAL_ERROR, TRY_LATER, UNAUTHORIZED, OcspAnswer,
)
from openjpki.services.sandbox_live import LiveSandbox
from openjpki.services.sandbox_mode import Mode
from openjpki.web.context import WebContext
from openjpki.web.problems import Problem

log = logging.getLogger("openjpki.sandbox")
OCSP_ERRORS = {"tryLater": TRY_LATER, "internalError": INTERNAL_ERROR,
               "unauthorized": UNAUTHORIZED}
STALE_BY = timedelta(hours=1)  # a stale answer's nextUpdate is this far in the past
FAULT = "https://openjpki.github.io/problems/sandbox-fault"


class SandboxWeb:
    """What the sandbox routes share: the mode, the live sandbox (None in production), and a
    counter context on the app's authority service (so OCSP hears of changes at once)."""

    def __init__(self, web: WebContext, mode: Mode, live: Optional[LiveSandbox]) -> None:
        self.web = web
        self.mode = mode
        self.live = live
        self._counter = None
        self._lock = threading.Lock()
        self._issuers: list = []
        self._stale_crls: dict[tuple, GeneratedCrl] = {}

    # --- time --------------------------------------------------------------------------------
    def now(self) -> datetime:
        return self.web.clock()

    def real(self) -> datetime:
        assert self.live is not None
        return self.live.base()

    def changed(self) -> None:
        """After a change made through this app: read it back at once."""
        if self.live is not None:
            self.live.refresh(force=True)

    def store(self):
        return self.web.open().store

    def counter(self):
        """A counter context on the app's authority service (actor ``sandbox``)."""
        if self._counter is None:
            with self._lock:
                if self._counter is None:
                    from openjpki.card import CardStore
                    from openjpki.services.counter import CounterContext, SecretBox
                    from openjpki.services.counter.context import load_counter_config

                    settings = self.web.settings
                    service = self.web.open()
                    municipality, calendar, office = load_counter_config(settings.config_file)
                    self._counter = CounterContext(
                        store=service.store, authority=service,
                        cards=CardStore(settings.cards_dir),
                        box=SecretBox.from_keys_dir(settings.keys_dir),
                        municipality=municipality, calendar=calendar,
                        default_office=office, actor="sandbox")
        return self._counter

    # --- cache invalidation ------------------------------------------------------------------
    def drop_caches(self) -> None:
        """The sandbox changed: nothing made at another clock position or fault setting may
        be served again."""
        if self.web.responder is not None:
            self.web.responder.clear()
        if self.web.crls is not None:
            self.web.crls.clear()
        self._stale_crls.clear()
        self._issuers = []  # a new authority generation is looked up afresh

    # --- OCSP faults -------------------------------------------------------------------------
    def _identify(self, body: bytes) -> tuple[str, str]:
        """(authority kind, serial) a request asks about; ('', '') when it does not parse
        (the responder then answers malformedRequest as usual)."""
        from openjpki.pki import OcspMalformed, issuer_hashes, parse_ocsp_request
        from openjpki.store import serial_hex

        try:
            info = parse_ocsp_request(body)
        except OcspMalformed:
            return "", ""
        if len(info.cert_ids) != 1:
            return "", ""
        cert_id = info.cert_ids[0]
        if not self._issuers:
            self._issuers = [(issuer_hashes(a.root), a.kind)
                             for a in self.web.open().authorities()]
        kind = next((k for hashes, k in self._issuers if cert_id.matches(hashes)), "")
        return kind, serial_hex(cert_id.serial)

    async def ocsp_hook(self, body: bytes, now: datetime) -> Optional[OcspAnswer]:
        """The OCSP fault for this request, if one is switched on: sleeps for its delay and
        answers the error or a stale response; None lets the responder answer as usual."""
        assert self.live is not None
        faults = self.live.faults
        if not faults.ocsp_active:
            return None
        kind = serial = ""
        if faults.ocsp_needs_request:
            kind, serial = await run_in_threadpool(self._identify, body)
        fault = faults.match("ocsp", kind, serial)
        if fault is None:
            return None
        if fault.delay_ms:
            await asyncio.sleep(fault.delay_ms / 1000)
        if fault.fault in OCSP_ERRORS:
            return OcspAnswer(OCSP_ERRORS[fault.fault], status=fault.fault)
        if fault.fault == "stale":
            return await run_in_threadpool(self._stale_ocsp, body, now)
        return None  # "delay": the usual answer, late

    def _stale_ocsp(self, body: bytes, now: datetime) -> OcspAnswer:
        self.web.open()
        responder = self.web.responder
        assert responder is not None
        return responder.respond(body, now - responder.validity - STALE_BY)

    # --- CRL faults --------------------------------------------------------------------------
    def crl_hook(self, kind: str, partition: Optional[str], now: datetime,
                 generation: Optional[int] = None) -> Optional[GeneratedCrl]:
        """The CRL to serve under a fault (a stale one), a problem response (missing,
        unavailable), or None for the usual CRL."""
        assert self.live is not None
        faults = self.live.faults
        if not faults.crl_active:
            return None
        fault = faults.match("crl", kind)
        if fault is None:
            return None
        if fault.fault == "missing":
            raise Problem(404, "CRL not published",
                          f"the {kind} CRL is not published (sandbox fault: missing)", type=FAULT)
        if fault.fault == "unavailable":
            raise Problem(503, "CRL unavailable",
                          f"the {kind} CRL cannot be served now (sandbox fault: unavailable)",
                          type=FAULT, headers={"Retry-After": "60"})
        key = (kind, partition, generation, self.live.revision)
        crl = self._stale_crls.get(key)
        if crl is None:
            service = self.web.open()
            crl = service.crl(kind, partition, now=now - service.crl_validity - STALE_BY,
                              generation=generation)
            self._stale_crls[key] = crl
        return crl


def install_sandbox(app: FastAPI, mode: Mode, *, ttl: Optional[float] = None) -> SandboxWeb:
    """Add the sandbox to an app made by :func:`openjpki.web.create_app` (once)."""
    existing = getattr(app.state, "openjpki_sandbox", None)
    if existing is not None:
        return existing
    from openjpki.web import sandbox_routes

    ctx: WebContext = app.state.openjpki
    live = None
    if mode.sandbox:
        live = LiveSandbox(lambda: ctx.open().store, ctx.clock,
                           ttl=ctx.sync_interval if ttl is None else ttl)
        ctx.clock = live
    sb = SandboxWeb(ctx, mode, live)
    if live is not None:
        live.on_change(sb.drop_caches)
        ctx.ocsp_hook = sb.ocsp_hook
        ctx.crl_hook = sb.crl_hook
    app.state.openjpki_sandbox = sb
    app.include_router(sandbox_routes.router)
    return sb


def sandbox_extension(mode: Mode) -> Callable[[FastAPI], None]:
    """For ``create_app(extensions=[…])``: the sandbox in ``mode``."""
    return lambda app: install_sandbox(app, mode) and None


__all__ = ["SandboxWeb", "install_sandbox", "sandbox_extension"]
