"""The sandbox as a running server sees it: the clock to hand to every request, and the
faults to inject, read from the store with a short cache.

:class:`LiveSandbox` is called for the time on every request (OCSP's hot path included), so
it answers from memory and looks at the store at most every ``ttl`` seconds: one small query
of the sandbox revision and clock row. When the revision changed (a CLI in another process,
or the API, moved the clock or switched a fault) it reloads the faults and calls the change
listeners, which drop the OCSP answers and CRLs made at another clock position.

The real time comes from ``base`` (the wall clock the outermost layer injected); this module
never reads the wall clock itself.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime
from typing import Callable, Optional

from openjpki.services.sandbox_clock import ClockSetting, setting_from_row
from openjpki.services.sandbox_faults import FaultSet, read_faults
from openjpki.store import Store
from openjpki.store.sandbox import read_settings

log = logging.getLogger("openjpki.sandbox")


class LiveSandbox:
    def __init__(self, store: Callable[[], Store], base: Callable[[], datetime], *,
                 ttl: float = 0.5) -> None:
        self._store = store  # may raise (e.g. not initialised yet): then the real clock
        self.base = base
        self.ttl = ttl
        self.setting = ClockSetting()
        self.faults = FaultSet()
        self.revision: Optional[int] = None
        self._next = 0.0
        self._lock = threading.Lock()
        self._listeners: list[Callable[[], None]] = []

    def on_change(self, listener: Callable[[], None]) -> None:
        """Called (in the refreshing thread) when the clock or the faults changed."""
        self._listeners.append(listener)

    def __call__(self) -> datetime:
        """The sandbox's now (the clock of the app)."""
        real = self.base()
        if time.monotonic() >= self._next:
            self.refresh()
        return self.setting.now(real)

    def refresh(self, *, force: bool = False) -> bool:
        """Read the setting now (at most once at a time); True when it changed."""
        if not self._lock.acquire(blocking=force):
            return False  # another thread is reading it: answer from memory
        try:
            self._next = time.monotonic() + self.ttl
            try:
                store = self._store()
                with store.engine.connect() as conn:
                    setting = setting_from_row(read_settings(conn))
                if setting.revision == self.revision:
                    return False
                faults = read_faults(store)
            except Exception as e:  # noqa: BLE001 — not initialised, or a store hiccup
                log.debug("sandbox settings not readable: %s", e)
                return False
            self.setting, self.faults, self.revision = setting, faults, setting.revision
        finally:
            self._lock.release()
        for listener in list(self._listeners):  # also the first time: nothing may be left
            try:                                 # from before the setting was known
                listener()
            except Exception:  # noqa: BLE001
                log.exception("sandbox change listener failed")
        return True
