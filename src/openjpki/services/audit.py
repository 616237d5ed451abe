"""The audit log as the services use it: one call to record, one to verify.

Entries are appended in the caller's transaction (so a procedure and its audit entries commit
or roll back together) and hash-chained (:mod:`openjpki.store.audit`). No secret ever goes in:
PINs, issuing secrets and keys are refused by the store layer.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from openjpki.store import Store
from openjpki.store.audit import AuditEntry, ChainReport, append, entries_for, verify_chain

__all__ = ["AuditEntry", "ChainReport", "entry_dict", "record", "trail", "verify"]


def record(session: Session, action: str, at: datetime, *, actor: str = "system",
           subject: str | None = None, **payload: Any) -> AuditEntry:
    """Append one entry (``action`` like ``"counter.renewal"``; ``subject`` like
    ``"resident:12"``) in the caller's transaction."""
    return append(session, action=action, at=at, actor=actor, subject=subject,
                  payload=_plain(payload))


def verify(store: Store) -> ChainReport:
    """Recompute the whole chain; ``report.ok`` is false at the first broken entry."""
    with store.transaction() as session:
        return verify_chain(session)


def trail(session: Session, subject: str) -> list[dict]:
    """The entries about one subject, oldest first."""
    return [entry_dict(e) for e in entries_for(session, subject)]


def entry_dict(e: AuditEntry) -> dict:
    return {"seq": e.seq, "at": e.at.isoformat(), "actor": e.actor, "action": e.action,
            "subject": e.subject, "payload": e.payload, "hash": e.hash}


def _plain(value: Any) -> Any:
    """Dates, enums and tuples as JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "value") and isinstance(getattr(value, "value"), (str, int)):
        return value.value
    return value
