"""The store's side of pre-produced OCSP responses (table ``ocsp_responses``): the writes of
status changes and of the producer, and the lookup on the request path.

Every certificate has a row from its issuance on (a migration gave the earlier ones theirs);
a status change empties its response and makes it due at once, in the transaction of the
change; the producer claims due rows for a lease, signs, and writes each response only when
the row's ``change_seq`` is not newer than the status it read (a change committed between its
read and its write wins). Times are Unix seconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional, Sequence

from sqlalchemy import Connection, Engine, and_, bindparam, func, select, update
from sqlalchemy.orm import Session

from openjpki.store.models import Certificate, OcspResponse

_T = OcspResponse.__table__
SQLITE_CACHE_KIB = 8192  # the lookup connection's page cache (per thread of each worker)


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # imported when used (start-up)
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(_T)


def register(session: Session, serial: str, authority_id: int, change_seq: int = 0) -> None:
    """A new certificate's row, due at once (no-op when it exists)."""
    stmt = _insert(session.get_bind().dialect.name).values(
        serial=serial, authority_id=authority_id, change_seq=change_seq, refresh_at=0)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["serial"]))


def register_many(session: Session, rows: Sequence[tuple[str, int]]) -> None:
    """New certificates' rows (serial, authority id), due at once: one statement for a batch
    (bulk issuance), no-op for those that exist. Run as Core on the session's connection
    (no ORM unit of work: nobody reads these rows back in the transaction)."""
    if rows:
        conn = session.connection()
        conn.execute(_registering(conn.dialect.name), [
            dict(serial=serial, authority_id=authority_id, change_seq=0, refresh_at=0)
            for serial, authority_id in rows])


def register_from(source) -> Any:
    """PostgreSQL: an INSERT … SELECT of (serial, authority_id, change_seq, refresh_at) rows
    from ``source`` (a SELECT of a CTE that inserts the certificates), no-op for those that
    exist: the rows :func:`register_many` makes, in the certificates' own statement."""
    return _insert("postgresql").from_select(["serial", "authority_id", "change_seq", "refresh_at"], source) \
        .on_conflict_do_nothing(index_elements=["serial"])


_REGISTER: dict[str, Any] = {}


def _registering(dialect: str):
    """The INSERT … ON CONFLICT DO NOTHING of :func:`register_many`, built once per dialect
    (building and hashing the statement cost as much as running it)."""
    stmt = _REGISTER.get(dialect)
    if stmt is None:
        stmt = _REGISTER[dialect] = _insert(dialect).on_conflict_do_nothing(index_elements=["serial"])
    return stmt


def invalidate(session: Session, serial: str, authority_id: int, change_seq: int) -> None:
    """A status change (in its own transaction): the response emptied and due at once; the
    row now states ``change_seq``, so an older producer write is refused."""
    stmt = _insert(session.get_bind().dialect.name).values(
        serial=serial, authority_id=authority_id, change_seq=change_seq, refresh_at=0)
    session.execute(stmt.on_conflict_do_update(
        index_elements=["serial"],
        set_=dict(change_seq=change_seq, refresh_at=0, der=None, this_update=None, next_update=None)))


def seed_missing(connection: Connection) -> int:
    """Rows for certificates that have none (loaded into the store by other means); the
    number made."""
    exists = select(_T.c.serial).where(_T.c.serial == Certificate.serial).exists()
    source = select(Certificate.serial, Certificate.authority_id, Certificate.change_seq,
                    func.cast(0, _T.c.refresh_at.type)).where(~exists)
    stmt = _insert(connection.dialect.name).from_select(
        ["serial", "authority_id", "change_seq", "refresh_at"], source)
    return connection.execute(stmt.on_conflict_do_nothing(index_elements=["serial"])).rowcount or 0


def claim_due(connection: Connection, authority_id: int, now: int, lease_until: int, limit: int) -> list[str]:
    """Take up to ``limit`` due rows of the authority until ``lease_until`` (another producer
    skips them meanwhile; after a crash they are due again when the lease ends)."""
    due = select(_T.c.serial).where(_T.c.authority_id == authority_id, _T.c.refresh_at <= now) \
        .order_by(_T.c.refresh_at).limit(limit)
    if connection.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    stmt = update(_T).where(_T.c.serial.in_(due.scalar_subquery())).values(refresh_at=lease_until) \
        .returning(_T.c.serial)
    return list(connection.scalars(stmt))


@dataclass(frozen=True)
class StatusToSign:
    serial: str
    status: str
    reason: Optional[str]
    revoked_at: Optional[datetime]
    change_seq: int


def statuses(connection: Connection, serials: Sequence[str]) -> list[StatusToSign]:
    """The current status of each serial (the certificate rows), to sign."""
    stmt = select(Certificate.serial, Certificate.status, Certificate.reason, Certificate.revoked_at,
                  Certificate.change_seq).where(Certificate.serial.in_(serials))
    return [StatusToSign(*row) for row in connection.execute(stmt)]


_STORE = update(_T).where(and_(_T.c.serial == bindparam("k_serial"), _T.c.change_seq <= bindparam("k_seq"))) \
    .values(der=bindparam("k_der"), this_update=bindparam("k_this"), next_update=bindparam("k_next"),
            refresh_at=bindparam("k_refresh"), change_seq=bindparam("k_seq"))


def store_produced(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Write signed responses: dicts with k_serial, k_seq (the change_seq read), k_der, k_this,
    k_next, k_refresh. A row changed since (newer change_seq) keeps its emptied response."""
    if rows:
        connection.execute(_STORE, list(rows))


def count_due(connection: Connection, now: int, authority_ids: Sequence[int]) -> dict[int, int]:
    """{authority id: rows due at ``now``} (for /healthz and ``ocsp produce``): one range of
    the (authority_id, refresh_at) index each, so it reads only the due rows."""
    stmt = select(func.count()).select_from(_T).where(_T.c.authority_id == bindparam("a"), _T.c.refresh_at <= now)
    return {a: connection.execute(stmt, {"a": a}).scalar_one() for a in authority_ids}


def count_rows(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(_T)).scalar_one()


# --- the request path ---------------------------------------------------------------------------


class StoredResponses:
    """The lookup the OCSP responder makes per request: one indexed SELECT on a DB-API
    connection of its own per thread (no ORM, no pool checkout: ≈ 10 µs on SQLite).

    On SQLite each SELECT reads the latest committed state (the sqlite3 module opens no
    transaction for reads); on PostgreSQL the connection is in autocommit, so no snapshot or
    transaction stays open between requests."""

    _SQL = {"sqlite": ("SELECT authority_id, der, this_update, next_update FROM ocsp_responses WHERE serial = ?",
                       "SELECT 1 FROM certificates WHERE serial = ?"),
            "postgresql": ("SELECT authority_id, der, this_update, next_update FROM ocsp_responses "
                           "WHERE serial = %s", "SELECT 1 FROM certificates WHERE serial = %s")}

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.response_sql, self.certificate_sql = self._SQL.get(self.dialect, self._SQL["postgresql"])
        self._local = threading.local()
        self._connections: list[Any] = []
        self._lock = threading.Lock()

    def _cursor(self) -> Any:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            raw = self.engine.raw_connection()
            driver = raw.driver_connection
            raw.detach()  # ours for the thread's life: never back in the pool
            if self.dialect == "postgresql":
                driver.autocommit = True
            elif self.dialect == "sqlite":
                # A bounded page cache of its own; the OS's page cache (shared by every
                # process) holds the rest of the file. No memory map: its pages would count
                # in every worker's resident memory as the lookups touch them.
                driver.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            with self._lock:
                self._connections.append(driver)
            cursor = self._local.cursor = driver.cursor()
        return cursor

    def response(self, serial: str) -> Optional[tuple[int, Optional[bytes], Optional[int], Optional[int]]]:
        """(authority id, DER or None, thisUpdate, nextUpdate) of the serial's row, or None."""
        cursor = self._cursor()
        try:
            cursor.execute(self.response_sql, (serial,))
            return cursor.fetchone()
        except Exception:
            self._reset()
            raise

    def certificate_exists(self, serial: str) -> bool:
        cursor = self._cursor()
        try:
            cursor.execute(self.certificate_sql, (serial,))
            return cursor.fetchone() is not None
        except Exception:
            self._reset()
            raise

    def _reset(self) -> None:
        """After an error (a dropped connection): a new connection at the next lookup."""
        cursor = getattr(self._local, "cursor", None)
        self._local.cursor = None
        if cursor is not None:
            try:
                cursor.connection.close()
            except Exception:  # noqa: BLE001 — already gone
                pass

    def close(self) -> None:
        with self._lock:
            connections, self._connections = self._connections, []
        for c in connections:
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
