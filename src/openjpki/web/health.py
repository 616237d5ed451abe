"""``GET /healthz``: 200 when the store answers and both authorities' keys are usable;
otherwise a 503 problem response saying what is missing. ``ocsp.due`` says how many
pre-produced OCSP responses are due (signed by the producer in the background)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from openjpki.services.authority import AuthorityError, NotInitialised
from openjpki.services.authority_setup import SetupError
from openjpki.store.ocsp_queries import count_due
from openjpki.web.context import WebContext
from openjpki.web.problems import Problem

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(request: Request) -> dict:
    ctx: WebContext = request.app.state.openjpki
    try:
        service = ctx.open()
        with service.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        authorities = []
        for kind in ("sign", "auth"):
            a = service.current(kind)
            service.signer(a.id)
            authorities.append({"kind": a.kind, "generation": a.generation,
                                "environment": a.environment})
    except NotInitialised as e:
        raise Problem(503, "Not initialised", str(e)) from None
    except (SetupError, AuthorityError) as e:
        raise Problem(503, "Authorities unavailable", str(e)) from None
    except Exception as e:  # noqa: BLE001 — the store does not answer
        raise Problem(503, "Store unavailable", type(e).__name__) from None
    return {"status": "ok", "time": ctx.clock().isoformat(), "authorities": authorities,
            "ocsp": _ocsp_due(ctx)}


def _ocsp_due(ctx: WebContext) -> dict:
    """Pre-produced OCSP (services.ocsp_producer): responses due now, per authority
    generation and in all (0 when the producer keeps up)."""
    service = ctx.service
    assert service is not None
    try:
        with service.store.engine.connect() as conn:
            authorities = service.authorities()
            counts = count_due(conn, int(ctx.clock().timestamp()), [a.id for a in authorities])
    except Exception:  # noqa: BLE001 — reported, not fatal: the responder signs on demand
        return {"due": None}
    per = {f"{a.kind}-{a.generation}": counts[a.id] for a in authorities}
    return {"due": sum(per.values()), "due_by_authority": per}
