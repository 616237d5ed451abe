"""The latest CRLs, kept in memory for the web layer and regenerated when stale.

A cached CRL is fresh while a quarter of its validity is left and no status change of its
authority has been seen since its entries were read (the revision the OCSP responder's sync
knows). By default a request that finds it stale makes a new one, with the next CRL number.
With ``background`` on (``openjpki serve``: web.background), a request gets the latest
published CRL as long as it is valid at all and only asks (``wanted``) for a new one, which
the publisher thread makes and swaps in whole (:meth:`CrlCache.refresh`): a GET waits for
generation only when there is no valid CRL yet. One lock per CRL, so a crowd of requests
after a revocation makes one CRL, not many.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Callable, Optional

from openjpki.pki import Kind
from openjpki.services.authority import (
    AuthorityService, GeneratedCrl, UnknownGeneration, UnknownPartition,
)


class CrlCache:
    def __init__(self, service: AuthorityService, revision_of: Callable[[int], int]) -> None:
        self.service = service
        self.revision_of = revision_of
        self._cache: dict[tuple[str, Optional[str], Optional[int]], GeneratedCrl] = {}
        self._locks: dict[tuple[str, Optional[str], Optional[int]], threading.Lock] = {}
        self._guard = threading.Lock()
        self.background = False  # serve's publisher regenerates (see the module's text)
        self.wanted = threading.Event()

    def _fresh(self, crl: Optional[GeneratedCrl], now: datetime) -> bool:
        if crl is None:
            return False
        margin = (crl.next_update - crl.this_update) / 4
        return (crl.this_update <= now < crl.next_update - margin
                and crl.revision >= self.revision_of(crl.authority_id))

    def get(self, kind: Kind | str, partition: Optional[str], now: datetime,
            generation: Optional[int] = None) -> GeneratedCrl:
        """The current CRL of ``kind`` (or of one SIGN partition), of its newest generation
        or of ``generation``; UnknownPartition, UnknownGeneration."""
        key = (Kind(kind).value, partition, generation)
        crl = self._cache.get(key)
        if self._fresh(crl, now):
            return crl  # type: ignore[return-value]
        if self.background and crl is not None and crl.this_update <= now < crl.next_update:
            self.wanted.set()  # the publisher makes the next one; this one is still valid
            return crl
        return self._make(key, now)

    def _make(self, key: tuple[str, Optional[str], Optional[int]], now: datetime) -> GeneratedCrl:
        """A new CRL for ``key`` unless another thread just made a fresh one."""
        kind, partition, generation = key
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            crl = self._cache.get(key)
            if not self._fresh(crl, now):
                try:
                    crl = self.service.crl(kind, partition, now=now, generation=generation)
                except (UnknownPartition, UnknownGeneration):
                    with self._guard:
                        self._locks.pop(key, None)
                    raise
                self._cache[key] = crl
            return crl  # type: ignore[return-value]

    def refresh(self, now: datetime) -> int:
        """Make anew every kept CRL that is not fresh (the publisher's round); how many."""
        made = 0
        for key, crl in list(self._cache.items()):
            if not self._fresh(crl, now):
                try:
                    self._make(key, now)
                except (UnknownPartition, UnknownGeneration):
                    self._cache.pop(key, None)
                    continue
                made += 1
        return made

    def warm(self, now: datetime) -> int:
        """Make every CRL of every generation (full lists and SIGN partitions) not kept yet,
        so the first GETs find them; how many were made."""
        made = 0
        for a in self.service.authorities():
            generation = a.generation  # as web.crl asks: 1 for the first generation's URLs
            keys = [(a.kind, None, generation)]
            if a.kind == Kind.SIGN.value:
                keys += [(a.kind, p, generation) for p in self.service.partitions(a.generation)]
            for key in keys:
                if key not in self._cache:
                    self._make(key, now)
                    made += 1
        return made

    def clear(self) -> None:
        self._cache.clear()
