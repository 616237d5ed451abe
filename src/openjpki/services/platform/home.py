"""The platform service of an OpenJPKI home: the home's verifier (every root generation in the
store; revocation from the authorities' records, gated by the sandbox's responder faults), the
register's links, the platform keys beside the CA keys, and the mode (sandbox or production).
"""

from __future__ import annotations

from typing import Callable, Optional

from openjpki.pki.verify import Verifier
from openjpki.services.authority import AuthorityService
from openjpki.services.platform.keys import KeyStore
from openjpki.services.platform.lookup import PrefetchedRevocation
from openjpki.services.platform.revocation import FaultGatedRevocation
from openjpki.services.platform.service import PlatformService
from openjpki.services.relying_party import StoreRevocation, store_roots
from openjpki.services.relying_party_core import VerificationCore
from openjpki.services.relying_party_links import RegisterLinks
from openjpki.services.sandbox_faults import FaultSet


def platform_verifier(service: AuthorityService, faults: Callable[[], Optional[FaultSet]] = lambda: None
                      ) -> Verifier:
    # the sandbox's faults first; then the rows a log-in read in its one statement, else the store
    source = PrefetchedRevocation(StoreRevocation(service))
    return Verifier(store_roots(service), revocation=[FaultGatedRevocation(source, faults)])


class HomeVerifier:
    """The verifier of the home, made again when the authorities' generations change (a root
    rollover: the new root is trusted from then on, the old ones still)."""

    def __init__(self, service: AuthorityService, faults: Callable[[], Optional[FaultSet]]) -> None:
        self.service = service
        self.faults = faults
        self._ids: tuple = ()
        self._verifier: Optional[Verifier] = None

    def __call__(self) -> Verifier:
        ids = tuple(sorted(a.id for a in self.service.authorities()))  # in memory: no query
        if self._verifier is None or ids != self._ids:
            self._verifier, self._ids = platform_verifier(self.service, self.faults), ids
        return self._verifier


def open_platform(service: AuthorityService, keys_dir, *, sandbox: bool,
                  faults: Callable[[], Optional[FaultSet]] = lambda: None) -> PlatformService:
    core = VerificationCore(HomeVerifier(service, faults), RegisterLinks(service.store))
    return PlatformService(service.store, core, KeyStore(keys_dir), sandbox=sandbox)


__all__ = ["HomeVerifier", "open_platform", "platform_verifier"]
