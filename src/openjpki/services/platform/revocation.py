"""Revocation as the platform learns it: the authorities' records (what their OCSP responder
and CRLs publish), except while the sandbox has a fault switched on for the responder that
would answer for the certificate.

A real platform asks OCSP or reads the CRL; when its source answers ``tryLater``, an error,
an out-of-date answer or nothing at all, it cannot know the certificate is still good and
must not say SUCCESS: it answers 503 until the source is back. So an OCSP fault (other than
a plain delay) matching the certificate, or a CRL fault of its authority, makes the answer
:func:`~openjpki.services.relying_party_core.unavailable` — the verdict becomes
``Outcome.UNAVAILABLE``, the API 503.
"""

from __future__ import annotations

from datetime import datetime
from typing import Callable, Optional

from openjpki.pki.path import TrustAnchor
from openjpki.pki.verify_cert import CertInfo
from openjpki.pki.verify_model import Revocation, RevocationSource
from openjpki.services.relying_party_core import unavailable
from openjpki.services.sandbox_faults import FaultSet

HARMLESS = frozenset({"delay"})  # a late answer is still an answer


class FaultGatedRevocation:
    def __init__(self, source: RevocationSource, faults: Callable[[], Optional[FaultSet]]) -> None:
        self.source = source
        self.faults = faults

    def check(self, cert: CertInfo, anchor: TrustAnchor, at: datetime) -> Optional[Revocation]:
        faults = self.faults()
        if faults is not None and (faults.ocsp_active or faults.crl_active):
            kind = cert.kind.value if cert.kind is not None else ""
            ocsp = faults.match("ocsp", kind, cert.serial_hex)
            if ocsp is not None and ocsp.fault not in HARMLESS:
                return unavailable("ocsp", f"the OCSP responder answers {ocsp.fault} (sandbox fault)")
            crl = faults.match("crl", kind)
            if crl is not None:
                return unavailable("crl", f"the {kind} CRL is {crl.fault} (sandbox fault)")
        return self.source.check(cert, anchor, at)


__all__ = ["FaultGatedRevocation"]
