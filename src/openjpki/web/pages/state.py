"""What the pages share between requests: the session signer, and the counter context
(the JSON API's when the API is installed — same authority service, same availability guard
and circuit breaker — else one of their own, opened on first use on the same authority
service as OCSP and the CRLs)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any, Optional

from openjpki.web.context import WebContext
from openjpki.web.pages.session import Sessions, load_or_create_key


class PagesState:
    def __init__(self, web: WebContext, app_state: Any) -> None:
        self.web = web
        self._app_state = app_state
        self._lock = threading.Lock()
        self._sessions: Optional[Sessions] = None
        self._own: Any = None

    @property
    def sessions(self) -> Sessions:
        if self._sessions is None:
            with self._lock:
                if self._sessions is None:
                    self._sessions = Sessions(load_or_create_key(self.web.settings.keys_dir))
        return self._sessions

    def now(self) -> datetime:
        return self.web.clock()

    def real_now(self) -> datetime:
        """Real time, for what protects access (the sign-in throttle): never the sandbox's
        movable clock."""
        return self._api().real_now()

    def _api(self):
        st = getattr(self._app_state, "openjpki_api", None)
        if st is not None:
            return st
        if self._own is None:
            with self._lock:
                if self._own is None:
                    from openjpki.web.api.state import ApiState

                    self._own = ApiState(self.web)
        return self._own

    def counter(self, actor: Optional[str] = None):
        """The counter context (NotInitialised … before it can be opened), acting as
        ``actor`` in the audit log."""
        ctx = self._api().counter()
        return ctx.with_actor(actor) if actor else ctx

    @property
    def health(self):
        return self._api().health

    @property
    def store(self):
        return self._api().counter().store
