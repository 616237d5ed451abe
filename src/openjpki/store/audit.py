"""The append-only, hash-chained audit log of the counter and the register.

Every procedure writes one or more entries. Entry ``n`` stores ``hash_n = SHA-256(hash_{n-1}
|| "\\n" || canonical_json(entry_n))`` where the canonical JSON covers the sequence number,
the time (UTC), the actor, the action, the subject and the payload. A one-row table
``audit_head`` holds the last sequence number and hash; writers lock it (an UPDATE first, so
PostgreSQL takes the row lock and SQLite its write lock) before reading the previous hash,
which serialises concurrent writers without gaps or forks. :func:`verify_chain` recomputes
the chain and reports the first entry that was edited, deleted or moved.

Nothing in this module updates or deletes an entry. Secrets (PINs, issuing secrets, keys)
never enter the log: :func:`append` refuses payload keys that name them.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Optional

from sqlalchemy import (
    JSON, Connection, Integer, String, bindparam, event, exists, insert, select, update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from openjpki.store.models import Base, UTCDateTime

GENESIS_HASH = "0" * 64
HEAD_ID = 1

# Payload keys that would carry a secret: refused outright (brief: never in logs).
SECRET_KEYS = frozenset({
    "pin", "pins", "new_pin", "current_pin", "card_pin", "sign_pin", "auth_pin",
    "issuing_secret", "secret", "private_key", "password",
})


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str | None] = mapped_column(String(100), index=True)
    payload: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row (id 1): the last sequence number and hash; the writers' lock."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def utc_naive(at: datetime) -> datetime:
    """``at`` in UTC without tzinfo (what is hashed; naive input is taken as UTC)."""
    if at.tzinfo is not None:
        at = at.astimezone(timezone.utc).replace(tzinfo=None)
    return at


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same bytes for the same value on every database."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def entry_body(seq: int, at: datetime, actor: str, action: str, subject: str | None,
               payload: dict) -> bytes:
    return canonical_json({
        "seq": seq,
        "at": utc_naive(at).isoformat(timespec="microseconds") + "Z",
        "actor": actor,
        "action": action,
        "subject": subject,
        "payload": payload,
    })


def chain_hash(prev_hash: str, body: bytes) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + body).hexdigest()


def check_no_secrets(value: Any, path: str = "payload") -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            if str(k).lower() in SECRET_KEYS:
                raise ValueError(f"audit {path}.{k}: secrets are never written to the audit log")
            check_no_secrets(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_no_secrets(v, f"{path}[{i}]")


def normalise(payload: dict) -> dict:
    """A JSON round trip, so the hashed value is exactly what the database gives back."""
    return json.loads(canonical_json(payload))


def _ensure_head(session: Session | Connection) -> None:
    """Create the head row if it is missing (a database emptied without its migration's
    seed). Concurrent first writers do not collide: the insert yields to an existing row."""
    values = dict(id=HEAD_ID, seq=0, hash=GENESIS_HASH)
    dialect = (session.get_bind() if isinstance(session, Session) else session).dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover — other databases: a plain insert (a racing twin fails)
        session.execute(insert(AuditHead).values(**values))
        return
    session.execute(dialect_insert(AuditHead).values(**values)
                    .on_conflict_do_nothing(index_elements=["id"]))


def _lock_head(session: Session) -> tuple[int, str]:
    """Take the writers' lock and return (new seq, previous hash)."""
    stmt = update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=AuditHead.seq + 1)
    if session.execute(stmt).rowcount == 0:
        _ensure_head(session)
        session.execute(stmt)
    row = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
    ).one()
    return row.seq, row.hash


def append(session: Session, *, action: str, at: datetime, actor: str = "system",
           subject: str | None = None, payload: dict | None = None) -> AuditEntry:
    """Append one entry in the caller's transaction (commit/rollback is the caller's).

    Call it late in a use case: from here to the commit, other writers wait for this one.
    """
    payload = normalise(payload or {})
    check_no_secrets(payload)
    if at.tzinfo is None:
        raise ValueError("audit times are timezone-aware")
    at = at.astimezone(timezone.utc)
    seq, prev = _lock_head(session)
    digest = chain_hash(prev, entry_body(seq, at, actor, action, subject, payload))
    entry = AuditEntry(seq=seq, at=at, actor=actor, action=action, subject=subject,
                       payload=payload, prev_hash=prev, hash=digest)
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(hash=digest))
    session.flush()
    return entry


def append_all(session: Session, entries: list[dict], *, normalised: bool = False) -> None:
    """Append several entries (each the keyword arguments of :func:`append`) in the caller's
    transaction, under ONE take of the writers' lock, the chain computed here and the rows
    inserted with one INSERT (executemany). The chain is the same as appending them one by
    one. ``normalised``: the payloads were normalised and checked for secrets already
    (:func:`openjpki.services.audit.record` does it when the entry is made).

    Usually two statements: the head this process committed last (remembered per
    connection pool, :data:`_HEADS`) is assumed, the chain computed from it, and ``UPDATE
    audit_head SET seq, hash WHERE seq = <assumed> AND hash = <assumed>`` both takes the
    writers' lock and checks the assumption; then the INSERT. When another writer moved the
    head meanwhile the UPDATE matches no row (on PostgreSQL it waits for that writer's row
    lock, then re-reads the row), and the head is read under the lock (``UPDATE … SET seq =
    seq + n … RETURNING``), the chain computed again and the head's hash set: four
    statements. Either way nothing is assumed that the locked row did not confirm."""
    if entries:
        _append_rows(session.connection(), _rows(entries, normalised), session=session)


def append_all_on(conn: Connection, entries: list[dict], *, normalised: bool = False) -> None:
    """:func:`append_all` on a Core connection's transaction (no session: the head is read
    under the lock, four statements; the chain is the same)."""
    if entries:
        _append_rows(conn, _rows(entries, normalised), session=None)


def _rows(entries: list[dict], normalised: bool) -> list[dict]:
    """The rows to insert for ``entries`` (payloads normalised and checked unless they are)."""
    rows = []
    for e in entries:
        payload = e.get("payload") or {}
        if not normalised:
            payload = normalise(payload)
            check_no_secrets(payload)
        at = e["at"]
        if at.tzinfo is None:
            raise ValueError("audit times are timezone-aware")
        rows.append(dict(at=at.astimezone(timezone.utc), actor=e.get("actor", "system"),
                         action=e["action"], subject=e.get("subject"), payload=payload))
    return rows


def _append_rows(conn: Connection, rows: list[dict], *, session: Optional[Session]) -> None:
    """Chain and insert ``rows``; with a ``session`` the head its pool last committed is
    assumed (and checked under the lock), without one it is read under the lock."""
    pool = conn.engine.pool
    assumed = (session.info.get(_HEAD_PENDING) or _HEADS.get(pool)) if session is not None else None
    head = None
    if assumed is not None:
        head = _chain(rows, *assumed)
        moves = {"old_seq": assumed[0], "old_hash": assumed[1], "new_seq": head[0], "new_hash": head[1]}
        if len(rows) == 1 and conn.dialect.name == "postgresql":  # one round trip for both
            if conn.execute(_ADVANCE_AND_INSERT, {**moves, **rows[0]}).first() is not None:
                rows = []
            else:
                head = None
        elif conn.execute(_ADVANCE_HEAD, moves).rowcount != 1:
            head = None
    if head is None:  # the head moved (or is unknown here): read it under the lock
        last, prev = _reserve(conn, len(rows))
        head = _chain(rows, last - len(rows), prev)
        conn.execute(_SET_HEAD_HASH, {"new_hash": head[1]})
    if rows:
        conn.execute(_INSERT_ENTRIES, rows)
    if session is not None:
        session.info[_HEAD_PENDING] = head
        session.info[_HEAD_POOL] = pool


def _chain(rows: list[dict], seq: int, prev: str) -> tuple[int, str]:
    """Number and hash ``rows`` after entry ``seq`` of hash ``prev``; the new head."""
    for row in rows:
        seq += 1
        digest = chain_hash(prev, entry_body(seq, row["at"], row["actor"], row["action"],
                                             row["subject"], row["payload"]))
        row.update(seq=seq, prev_hash=prev, hash=digest)
        prev = digest
    return seq, prev


def _reserve(conn: Connection, n: int) -> tuple[int, str]:
    """Take the writers' lock and ``n`` sequence numbers: (the last of them, previous hash).
    The UPDATE takes PostgreSQL's row lock (SQLite's write lock) before it reads the hash."""
    row = conn.execute(_RESERVE, {"n": n}).first()
    if row is None:
        _ensure_head(conn)
        row = conn.execute(_RESERVE, {"n": n}).one()
    return row.seq, row.hash


# The head each connection pool's last commit left (a hint, see append_all): set after the
# commit, forgotten on a rollback. Weak keys: a disposed store takes its entry with it.
_HEADS: "weakref.WeakKeyDictionary[Any, tuple[int, str]]" = weakref.WeakKeyDictionary()
_HEAD_PENDING = "openjpki.audit.head"
_HEAD_POOL = "openjpki.audit.head_pool"


@event.listens_for(Session, "after_commit")
def _remember_head(session: Session) -> None:
    head = session.info.pop(_HEAD_PENDING, None)
    pool = session.info.pop(_HEAD_POOL, None)
    if head is not None and pool is not None:
        _HEADS[pool] = head


@event.listens_for(Session, "after_rollback")
def _forget_head(session: Session) -> None:
    session.info.pop(_HEAD_PENDING, None)
    pool = session.info.pop(_HEAD_POOL, None)
    if pool is not None:
        _HEADS.pop(pool, None)


# Built once: the statements of append_all, compiled once per engine (SQLAlchemy's cache).
_HEAD = AuditHead.__table__
_RESERVE = (update(_HEAD).where(_HEAD.c.id == HEAD_ID)
            .values(seq=_HEAD.c.seq + bindparam("n")).returning(_HEAD.c.seq, _HEAD.c.hash))
_ADVANCE_HEAD = (update(_HEAD).where(_HEAD.c.id == HEAD_ID, _HEAD.c.seq == bindparam("old_seq"),
                                     _HEAD.c.hash == bindparam("old_hash"))
                 .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))
# PostgreSQL: the head advanced (checked) and the entry inserted only when it was, one statement
_ADVANCED = _ADVANCE_HEAD.returning(_HEAD.c.seq).cte("advanced")
_ENTRY_COLUMNS = ("seq", "at", "actor", "action", "subject", "payload", "prev_hash", "hash")
_ADVANCE_AND_INSERT = insert(AuditEntry.__table__).from_select(list(_ENTRY_COLUMNS), select(
    *[bindparam(c, type_=AuditEntry.__table__.c[c].type) for c in _ENTRY_COLUMNS])
    .where(exists(select(_ADVANCED.c.seq)))).returning(AuditEntry.__table__.c.seq)  # (rowcount: -1)
_SET_HEAD_HASH = update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(hash=bindparam("new_hash"))
_INSERT_ENTRIES = insert(AuditEntry.__table__)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    broken_seq: int | None = None
    problem: str | None = None

    def as_dict(self) -> dict:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "head_hash": self.head_hash, "broken_seq": self.broken_seq,
                "problem": self.problem}


def verify_entries(rows: Iterable[AuditEntry], head_seq: int, head_hash: str) -> ChainReport:
    """Walk entries in ``seq`` order and stop at the first that does not fit the chain."""
    prev = GENESIS_HASH
    expected = 1
    count = 0
    for e in rows:
        count += 1
        if e.seq != expected:
            return ChainReport(False, count, head_seq, head_hash, expected,
                               f"entry {expected} is missing (next is {e.seq})")
        if e.prev_hash != prev:
            return ChainReport(False, count, head_seq, head_hash, e.seq,
                               f"entry {e.seq} does not follow entry {e.seq - 1}")
        body = entry_body(e.seq, e.at, e.actor, e.action, e.subject, e.payload)
        if chain_hash(prev, body) != e.hash:
            return ChainReport(False, count, head_seq, head_hash, e.seq,
                               f"entry {e.seq} was altered (hash mismatch)")
        prev = e.hash
        expected += 1
    last = expected - 1
    if last != head_seq or prev != head_hash:
        # Entries past the head are not vouched for; entries the head names are missing.
        return ChainReport(False, count, head_seq, head_hash, min(last, head_seq) + 1,
                           f"the chain ends at entry {last} but the head says {head_seq}")
    return ChainReport(True, count, head_seq, head_hash)


def verify_chain(session: Session) -> ChainReport:
    """Recompute the whole chain (detects edits, deletions, insertions and reordering)."""
    head = session.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).one_or_none()
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    rows = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    ).scalars()
    return verify_entries(rows, head_seq, head_hash)


def entries_for(session: Session, subject: str) -> list[AuditEntry]:
    return list(session.execute(
        select(AuditEntry).where(AuditEntry.subject == subject).order_by(AuditEntry.seq)
    ).scalars())
