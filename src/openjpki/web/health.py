"""``GET /healthz``: which node answers, and whether what it needs is reachable now — the
store (one round trip), both authorities' current keys and, when a key is in a PKCS#11
token, the token itself (asked, not remembered). 200 when all are; otherwise a 503 problem
response saying what is missing, with the node's name, so a load balancer drops the node
until it recovers. ``ocsp.due`` says how many pre-produced OCSP responses are due (signed
by the producer in the background)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlalchemy import text

from openjpki.config import node_name
from openjpki.services.authority import AuthorityError, NotInitialised
from openjpki.services.authority_setup import SetupError
from openjpki.services.keystore import is_token_ref
from openjpki.store.ocsp_queries import count_due
from openjpki.web.context import WebContext
from openjpki.web.problems import Problem

router = APIRouter(tags=["health"])


def _key_store(service, refs: list[str]) -> dict:
    """{"kind": file|pkcs11, "token": reachable} — every token key is pinged."""
    tokens = [r for r in refs if is_token_ref(r)]
    for ref in refs:
        service.keys.ping(ref)
    if not tokens:
        return {"kind": "file"}
    return {"kind": "pkcs11", "token": "reachable"}


@router.get("/healthz")
def healthz(request: Request) -> dict:
    ctx: WebContext = request.app.state.openjpki
    node = node_name(ctx.settings)
    try:
        service = ctx.open()
        with service.store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except NotInitialised as e:
        raise Problem(503, "Not initialised", str(e), node=node) from None
    except (SetupError, AuthorityError) as e:
        raise Problem(503, "Authorities unavailable", str(e), node=node) from None
    except Exception as e:  # noqa: BLE001 — the store does not answer
        raise Problem(503, "Store unavailable", type(e).__name__, node=node, store="unreachable") from None
    try:
        authorities, refs = [], []
        for kind in ("sign", "auth"):
            a = service.current(kind)
            service.signer(a.id)
            refs.append(a.key_file)
            authorities.append({"kind": a.kind, "generation": a.generation,
                                "environment": a.environment})
        keys = _key_store(service, refs)
    except (SetupError, AuthorityError) as e:
        raise Problem(503, "Authorities unavailable", str(e), node=node, store="reachable") from None
    except Exception as e:  # noqa: BLE001 — a token that stopped answering mid-way
        raise Problem(503, "Key store unavailable", type(e).__name__, node=node,
                      store="reachable") from None
    return {"status": "ok", "node": node, "time": ctx.clock().isoformat(), "store": "reachable",
            "key_store": keys, "authorities": authorities, "ocsp": _ocsp_due(ctx)}


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
