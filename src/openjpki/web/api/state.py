"""What the API shares between requests: the counter (opened on first use, on the same
authority service as OCSP and the CRLs so their caches hear of every status change), the
authorities' availability guard, who may call the API (:meth:`ApiState.access`, decided
once, on the first request), and — in ``serve`` — the deferred worker's thread."""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any, Optional

from openjpki.web.context import WebContext, utc_now

log = logging.getLogger("openjpki.web.api")


class ApiState:
    def __init__(self, web: WebContext, *, health_options: Optional[dict] = None,
                 worker_options: Optional[dict] = None, app_state: Any = None) -> None:
        self.web = web
        self.app_state = app_state
        self._access: Any = None
        self.health_options = dict(health_options or {})
        self.worker_options = dict(worker_options or {})
        self._lock = threading.Lock()
        self._counter: Any = None
        self._health: Any = None
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self.worker: Any = None

    def now(self) -> datetime:
        return self.web.clock()

    def real_now(self) -> datetime:
        """Real time, for what protects access (token expiry, the clerk's lock): the app's
        injected clock, never the sandbox's movable one (web.sandbox wraps the app's clock
        and keeps the injected one as its base)."""
        live = getattr(getattr(self.app_state, "openjpki_sandbox", None), "live", None)
        return live.base() if live is not None else self.web.clock()

    def access(self):
        """Who may call the API (services.api_access), in the mode the server runs in: the
        sandbox extension's when the server has one (``serve --production`` decided it),
        else resolved from the settings and ``$OPENJPKI_SERVICE_MODE`` as ``serve`` does.
        ModeConfigError / ApiConfigError when the configuration cannot say (asked again on
        the next request)."""
        if self._access is None:
            from openjpki.services.api_access import api_access
            from openjpki.services.sandbox_mode import resolve_mode

            sandbox = getattr(self.app_state, "openjpki_sandbox", None)
            mode = getattr(sandbox, "mode", None) or resolve_mode(self.web.settings)
            self._access = api_access(self.web.settings, mode)
        return self._access

    def counter(self):
        """The counter context (NotInitialised, ConfigError … before it can be opened)."""
        if self._counter is not None:
            return self._counter
        with self._lock:
            if self._counter is None:
                from openjpki.services.deferred_health import guarded_counter

                service = self.web.open()
                self._counter, self._health = guarded_counter(
                    self.web.settings, service, actor="api", **self.health_options)
        return self._counter

    @property
    def health(self):
        self.counter()
        return self._health

    # --- the deferred worker (serve) -------------------------------------------------------
    def start_worker(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._work, name="openjpki-deferred-worker",
                                        daemon=True)
        self._thread.start()

    def _work(self) -> None:
        from openjpki.services.deferred_worker import DeferredWorker

        # Wait for the store to be usable (serve initialises it before starting).
        while not self._stop.is_set():
            try:
                ctx = self.counter()
                break
            except Exception as e:  # noqa: BLE001 — not initialised yet: try again shortly
                log.debug("deferred worker waiting for the store: %s", e)
                self._stop.wait(1.0)
        else:
            return
        options = dict(self.worker_options)
        sweep_age = options.pop("sweep_age", 900.0)
        # The work happens at the app's now (the sandbox clock when there is one); leases
        # are kept in real time, so moving the sandbox clock never strands a claimed item.
        options.setdefault("lease_clock", utc_now)
        self.worker = DeferredWorker(ctx, self._health, clock=self.web.clock, **options)
        try:
            gone = self.worker.sweep_orphan_cards(min_age=sweep_age)
            if gone:
                log.info("removed %d card(s) left by interrupted work", len(gone))
        except Exception:  # noqa: BLE001
            log.exception("deferred worker: sweeping orphan cards failed")
        log.info("deferred worker %s started", self.worker.id)
        self.worker.run(self._stop)

    def stop_worker(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
