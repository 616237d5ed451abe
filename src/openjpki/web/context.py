"""What the HTTP layer shares between requests: the settings, the injected clock, and the
authority service with its OCSP responder and CRL cache, opened on first use (so an app can
be created before ``init`` ran; until then OCSP answers tryLater and CRLs 503)."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timezone
from typing import Awaitable, Callable, Optional

from openjpki.config import Settings
from openjpki.services.authority import AuthorityService, GeneratedCrl
from openjpki.services.authority_home import open_authorities
from openjpki.services.authority_ocsp import OcspAnswer, OcspResponder
from openjpki.services.authority_publish import CrlCache
from openjpki.services.authority_setup import load_pki_config

Clock = Callable[[], datetime]
log = logging.getLogger("openjpki.web")


def utc_now() -> datetime:
    """The wall clock (the default clock of the app; tests and the sandbox inject another)."""
    return datetime.now(timezone.utc)


class WebContext:
    def __init__(self, settings: Settings, clock: Clock, *, sync_interval: float = 0.5) -> None:
        self.settings = settings
        self.clock = clock
        self.sync_interval = sync_interval
        self.service: Optional[AuthorityService] = None
        self.responder: Optional[OcspResponder] = None
        self.crls: Optional[CrlCache] = None
        self._lock = threading.Lock()
        self._next_sync = 0.0
        # Fault injection of the sandbox (openjpki.web.sandbox); None otherwise. The OCSP hook
        # may answer instead of the responder (``await ocsp_hook(request, now)``: an answer or
        # None), the CRL hook instead of the cache (``crl_hook(kind, partition, now, generation)``: a CRL,
        # None, or it raises a Problem).
        self.ocsp_hook: Optional[Callable[[bytes, datetime], Awaitable[Optional[OcspAnswer]]]] = None
        self.crl_hook: Optional[Callable[[str, Optional[str], datetime, Optional[int]],
                                         Optional[GeneratedCrl]]] = None

    def open(self) -> AuthorityService:
        """The authority service (NotInitialised until ``init`` has run)."""
        if self.service is not None:
            return self.service
        with self._lock:
            if self.service is None:
                config = load_pki_config(self.settings.config_file)
                service = open_authorities(self.settings, config=config)
                responder = OcspResponder(service, validity=config.ocsp_validity,
                                          unknown=config.ocsp_unknown)
                responder.sync()
                service.add_change_listener(responder.sync)
                self.crls = CrlCache(service, responder.revision)
                self.responder = responder
                self._next_sync = time.monotonic() + self.sync_interval
                self.service = service
        return self.service

    def sync_due(self) -> bool:
        return self.responder is not None and time.monotonic() >= self._next_sync

    def sync(self) -> None:
        """Look for status changes made by other processes (at most every sync_interval)."""
        self._next_sync = time.monotonic() + self.sync_interval
        if self.responder is not None:
            try:
                self.responder.sync()
            except Exception:  # noqa: BLE001 — a store hiccup: answer from cache, retry later
                log.exception("could not read the authorities' revisions")

    def close(self) -> None:
        if self.responder is not None:
            self.responder.close()
        if self.service is not None:
            self.service.store.dispose()
