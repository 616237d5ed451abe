"""The latest CRLs, kept in memory for the web layer and regenerated when stale.

A cached CRL is served while a quarter of its validity is left and no status change of its
authority has been seen since its entries were read (the revision the OCSP responder's sync
knows); otherwise the next request makes a new one, with the next CRL number. One lock per
CRL, so a crowd of requests after a revocation makes one CRL, not many.
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
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            crl = self._cache.get(key)
            if not self._fresh(crl, now):
                try:
                    crl = self.service.crl(key[0], partition, now=now, generation=generation)
                except (UnknownPartition, UnknownGeneration):
                    with self._guard:
                        self._locks.pop(key, None)
                    raise
                self._cache[key] = crl
            return crl  # type: ignore[return-value]

    def clear(self) -> None:
        self._cache.clear()
