"""The audit log as the services use it: one call to record, one to verify.

Entries belong to the caller's transaction: a procedure and its audit entries commit or roll
back together. :func:`record` checks an entry at once (no secret may go in: PINs, issuing
secrets and keys are refused; times are timezone-aware) and keeps it with the session; the
entries are chained (:mod:`openjpki.store.audit`) just before the session commits. So the
chain's head — the one lock every writer shares — is held only for the commit itself, not
while a procedure makes keys on a card or waits for the authorities.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from openjpki.store import Store
from openjpki.store.audit import (
    AuditEntry, ChainReport, check_no_secrets, normalise, append_all, append_all_on, entries_for,
    verify_chain,
)

_PENDING = "openjpki.audit.pending"

__all__ = ["AuditEntry", "ChainReport", "entry_dict", "record", "record_on", "trail", "verify"]


def record(session: Session, action: str, at: datetime, *, actor: str = "system",
           subject: str | None = None, **payload: Any) -> None:
    """Record one entry (``action`` like ``"counter.renewal.completed"``; ``subject`` like
    ``"resident:12"``) in the caller's transaction; it is chained when the session commits
    and dropped if it rolls back. ValueError at once for a secret or a naive time."""
    if at.tzinfo is None:
        raise ValueError("audit times are timezone-aware")
    body = normalise(_plain(payload))
    check_no_secrets(body)
    session.info.setdefault(_PENDING, []).append(
        dict(action=action, at=at, actor=actor, subject=subject, payload=body))


def record_on(conn: Connection, action: str, at: datetime, *, actor: str = "system",
              subject: str | None = None, **payload: Any) -> None:
    """:func:`record` on a Core connection's transaction (a hot path without the ORM): the
    entry is chained at once, so call it last before the commit (the chain's head is locked
    from here to the commit)."""
    if at.tzinfo is None:
        raise ValueError("audit times are timezone-aware")
    body = normalise(_plain(payload))
    check_no_secrets(body)
    append_all_on(conn, [dict(action=action, at=at, actor=actor, subject=subject, payload=body)],
                  normalised=True)


@event.listens_for(Session, "before_commit")
def _chain_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, None)
    if pending:
        # one lock and one INSERT for the session's entries (checked when recorded)
        append_all(session, pending, normalised=True)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)


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
