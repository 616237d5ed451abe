"""What ``openjpki serve`` does besides answering requests, in threads of each process:

* the OCSP producer (services.ocsp_producer): every certificate's response signed ahead of
  need and kept in the store, so the responder serves it by lookup;
* the CRL publisher: every CRL of every generation made at start, then made anew when its
  content changed (a status change seen by the sync with other processes) or a quarter of
  its validity is left, and swapped in whole; a GET is served the latest published CRL
  (services.authority_publish, ``background``) and never waits for one to be made, except
  for the first of a CRL not made yet;
* short garbage-collection pauses (web.gc_pauses) with the OCSP caches full.

Both wait for the store (``init``), use the app's clock (the sandbox's, when there is one),
and stop with the server (the lifespan of the app).
"""

from __future__ import annotations

import logging
import threading
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable

from fastapi import FastAPI

from openjpki.services.ocsp_producer import OcspProducer
from openjpki.web.context import WebContext
from openjpki.web.gc_pauses import keep_pauses_short

log = logging.getLogger("openjpki.web")
PUBLISH_INTERVAL = 1.0  # seconds between the publisher's rounds when nobody asks


def _opened(ctx: WebContext, stop: threading.Event) -> bool:
    """Wait until the store and the authorities are there; False when stopped first."""
    while not stop.is_set():
        try:
            ctx.open()
            return True
        except Exception as e:  # noqa: BLE001 — not initialised yet: try again shortly
            log.debug("waiting for the store: %s", e)
            stop.wait(1.0)
    return False


def produce_ocsp(ctx: WebContext, stop: threading.Event) -> None:
    if not _opened(ctx, stop):
        return
    assert ctx.service is not None and ctx.responder is not None
    OcspProducer(ctx.service, validity=ctx.responder.validity, clock=ctx.clock).run(stop)


def publish_crls(ctx: WebContext, stop: threading.Event) -> None:
    if not _opened(ctx, stop):
        return
    crls = ctx.crls
    assert crls is not None
    crls.background = True
    try:
        crls.warm(ctx.clock())
    except Exception:  # noqa: BLE001 — a GET makes what is missing
        log.exception("making the CRLs at start")
    while not stop.is_set():
        crls.wanted.wait(PUBLISH_INTERVAL)
        crls.wanted.clear()
        if stop.is_set():
            break
        try:
            if ctx.sync_due():
                ctx.sync()
            crls.refresh(ctx.clock())
        except Exception:  # noqa: BLE001 — try again next round
            log.exception("publishing CRLs")


def _gc(_ctx: WebContext, stop: threading.Event) -> None:
    keep_pauses_short(stop)


def background_extension(app: FastAPI) -> None:
    """For ``create_app(extensions=[…])``: the producer and the publisher run while the app's
    lifespan does."""
    ctx: WebContext = app.state.openjpki
    inner = app.router.lifespan_context
    jobs: list[Callable[[WebContext, threading.Event], None]] = [produce_ocsp, publish_crls, _gc]

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        stop = threading.Event()
        threads = [threading.Thread(target=job, args=(ctx, stop), daemon=True, name=f"openjpki-{job.__name__}")
                   for job in jobs]
        for t in threads:
            t.start()
        try:
            async with inner(a) as value:
                yield value
        finally:
            stop.set()
            if ctx.crls is not None:
                ctx.crls.wanted.set()
            for t in threads:
                t.join(10.0)
    app.router.lifespan_context = lifespan
