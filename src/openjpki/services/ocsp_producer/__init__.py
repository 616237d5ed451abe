"""Pre-produced OCSP: every certificate's response signed ahead of need (see ``producer``)."""

from openjpki.services.ocsp_producer.producer import (
    DEFAULT_LEASE, OcspProducer, ProduceReport, cert_status,
)

__all__ = ["DEFAULT_LEASE", "OcspProducer", "ProduceReport", "cert_status"]
