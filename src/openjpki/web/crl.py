"""``GET /crl/sign.crl``, ``GET /crl/auth.crl`` (each authority's full CRL) and
``GET /crl/sign/{partition}.crl`` (one issuing municipality's partition of the SIGN CRL),
DER as ``application/pkix-crl``; the same under ``/crl/g{N}/`` for root generation N ≥ 2
(``openjpki authorities rollover``), whose certificates name those URLs. The latest CRL is
kept in memory and made anew when a quarter of its validity is left or after a status
change (see services.authority_publish)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from openjpki.services.authority import NotInitialised, UnknownGeneration, UnknownPartition
from openjpki.services.authority_publish import CrlCache
from openjpki.web.context import WebContext
from openjpki.web.ocsp import http_date
from openjpki.web.problems import Problem

PKIX_CRL = "application/pkix-crl"
_PARTITION = re.compile(r"[0-9a-f]{16}")
router = APIRouter(tags=["revocation"])


def _crl(request: Request, kind: str, partition: str | None, generation: int) -> Response:
    ctx: WebContext = request.app.state.openjpki
    try:
        ctx.open()
    except NotInitialised as e:
        raise Problem(503, "Not initialised", str(e)) from None
    if ctx.sync_due():
        ctx.sync()
    crls: CrlCache = ctx.crls  # type: ignore[assignment]
    now = ctx.clock()
    try:
        # Sandbox faults (web.sandbox): a stale CRL, or a Problem for a missing one.
        crl = ctx.crl_hook(kind, partition, now, generation) if ctx.crl_hook is not None else None
        crl = crl or crls.get(kind, partition, now, generation)
    except UnknownPartition as e:
        raise Problem(404, "Unknown CRL partition", str(e)) from None
    except UnknownGeneration as e:
        raise Problem(404, "Unknown authority generation", str(e)) from None
    headers = {
        "Cache-Control": "public, max-age=60, no-transform",
        "Last-Modified": http_date(crl.this_update),
        "Expires": http_date(crl.next_update),
    }
    return Response(crl.der, media_type=PKIX_CRL, headers=headers)


def _full(request: Request, kind: str, generation: int) -> Response:
    if kind not in ("sign", "auth"):
        raise Problem(404, "Unknown authority", f"no authority {kind!r}: sign or auth")
    return _crl(request, kind, None, generation)


def _partition(request: Request, partition: str, generation: int) -> Response:
    if not _PARTITION.fullmatch(partition):
        raise Problem(404, "Unknown CRL partition",
                      f"{partition!r} is not a partition id (16 lowercase hex digits)")
    return _crl(request, "sign", partition, generation)


@router.get("/crl/{kind}.crl", response_class=Response,
            responses={200: {"content": {PKIX_CRL: {}}, "description": "the full CRL (DER)"}})
def full_crl(kind: str, request: Request) -> Response:
    """The full CRL of the SIGN (``sign``) or AUTH (``auth``) authority."""
    return _full(request, kind, 1)


@router.get("/crl/sign/{partition}.crl", response_class=Response,
            responses={200: {"content": {PKIX_CRL: {}}, "description": "a partition CRL (DER)"}})
def partition_crl(partition: str, request: Request) -> Response:
    """One issuing municipality's partition of the SIGN CRL (the id in the certificates'
    CRL distribution point URL)."""
    return _partition(request, partition, 1)


@router.get("/crl/g{generation:int}/{kind}.crl", response_class=Response,
            responses={200: {"content": {PKIX_CRL: {}}, "description": "the full CRL (DER)"}})
def generation_full_crl(generation: int, kind: str, request: Request) -> Response:
    """The full CRL of generation ``generation`` (2, 3, …) of the SIGN or AUTH authority."""
    return _full(request, kind, _generation(generation))


@router.get("/crl/g{generation:int}/sign/{partition}.crl", response_class=Response,
            responses={200: {"content": {PKIX_CRL: {}}, "description": "a partition CRL (DER)"}})
def generation_partition_crl(generation: int, partition: str, request: Request) -> Response:
    """One partition of the SIGN CRL of generation ``generation`` (2, 3, …)."""
    return _partition(request, partition, _generation(generation))


def _generation(generation: int) -> int:
    # The first generation's CRLs live at /crl/… (no /g1/ path: one URL for one CRL).
    if generation < 2:
        raise Problem(404, "Unknown authority generation",
                      f"generation {generation}: the first generation's CRLs are at /crl/…")
    return generation
