"""Which holders get an expiry notice on a given day (R3.4): one set-based SELECT, streamed.

The batch of day ``on`` wants every certificate with ``expiry_notice_on(E) <= on <= E``
(:func:`~openjpki.rules.expiry_notice_due`). ``expiry_notice_on`` never decreases as the
expiry day grows, so these expiry days form one range ``[on, last]``;
:func:`notice_window` finds ``last`` by asking the rule itself. The SELECT then joins, in
the database, the current certificates on active cards (``card_certificates`` by the index
that covers what is read from it) with their holders on the register and their status at the authority
(good only: a SIGN revoked after a move gets no notice), and leaves out by ``NOT EXISTS``
every certificate a notice was already sent for (``expiry_notices``, unique by serial) and
every validity ended by the period of stay (R2.3). No Python loop ever walks the residents.

"Ended by the period of stay": the certificate's own rule is R2.3, or it ends on the
holder's last day of stay — a SIGN capped by an AUTH certificate that the stay ended carries
R2.2 (the rules keep the first of equal candidates), yet its end came from the stay too.

Each row is checked once more with :func:`~openjpki.rules.expiry_notice_due` as it streams
by, so the rule has the last word even if the pre-filter and the rule ever disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from itertools import groupby
from typing import Iterator

from sqlalchemy import Connection, and_, exists, func, or_, select

from openjpki.rules import expiry_notice_due, expiry_notice_on
from openjpki.store import Certificate
from openjpki.store.citizen_models import ExpiryNotice
from openjpki.store.counter_models import Card, CardCertificate
from openjpki.store.residents import Resident

STAY_RULE = "R2.3"  # validity ended by the period of stay: no notice (R3.4 Decision)
STREAM_BATCH = 2000


def notice_window(on: date) -> tuple[date, date]:
    """The expiry days whose notice is due on ``on``: ``(on, last)``, both inclusive."""
    last = on + timedelta(days=100)  # three months and a day is at most 93 days
    while expiry_notice_on(last) > on:
        last -= timedelta(days=1)
    return on, last


@dataclass(frozen=True)
class DueCertificate:
    serial: str
    kind: str
    not_after: date
    expiry_rule: str
    card_id: int
    card_number: str
    resident_id: int
    name: str
    address: str
    birth_date: date
    prefecture: str
    municipality: str
    card_expires_on: date | None = None
    """The card's own expiry: the notice tells of it too (001's お知らせ covers the card)."""
    postal_code: str | None = None


@dataclass(frozen=True)
class DueNotice:
    """One letter: a card's certificates that expire on the same day."""

    card_id: int
    not_after: date
    certificates: tuple[DueCertificate, ...]

    @property
    def holder(self) -> DueCertificate:
        return self.certificates[0]


def _due_filter(on: date):
    first, last = notice_window(on)
    cc = CardCertificate
    return and_(
        cc.current.is_(True),
        cc.not_after >= first, cc.not_after <= last,
        cc.expiry_rule != STAY_RULE,
        or_(Resident.stay_until.is_(None), Resident.stay_until != cc.not_after),
        Card.state == "active",
        Resident.on_register.is_(True),
        Certificate.status == "good",
        ~exists().where(ExpiryNotice.serial == cc.serial),
    )


def _joined(stmt):
    cc = CardCertificate
    return (stmt.select_from(cc)
            .join(Card, Card.id == cc.card_id)
            .join(Resident, Resident.id == Card.resident_id)
            .join(Certificate, Certificate.serial == cc.serial))


def due_statement(on: date):
    """The SELECT of every certificate whose notice is due on ``on`` and not yet sent,
    ordered so that one card's certificates come together."""
    cc = CardCertificate
    stmt = select(cc.serial, cc.kind, cc.not_after, cc.expiry_rule, cc.card_id,
                  Card.card_number, Card.resident_id, Resident.name, Resident.address,
                  Resident.birth_date, Resident.prefecture, Resident.municipality,
                  Card.expires_on, Resident.postal_code, Resident.stay_until)
    return _joined(stmt).where(_due_filter(on)).order_by(cc.card_id, cc.not_after, cc.kind)


SQLITE_CACHE_KIB = 65536


def tune_for_batch(conn: Connection) -> None:
    """Settings for one long read on this connection's transaction.

    PostgreSQL: plan the cursor for reading every row (not the first tenth), skip JIT
    compilation (it costs more than it saves on these index walks), and join by nested loops
    only. The planner cannot know that the notices already sent are exactly the ones in the
    window (it takes the anti-join to remove a share of the window as small as the share of
    all certificates noticed), so on a normal day it expects a hundred times the rows that
    come out and hashes the whole cards and certificates tables for them; every join here is
    a lookup by primary key or unique serial, which nested loops do best whatever the count
    (measured: 0.15 s instead of 0.65 s on a 300 000-resident register).
    SQLite: a 64 MiB page cache for the walk (:func:`untune` puts the default back before
    the connection returns to the pool)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL cursor_tuple_fraction = 1.0")
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")


def untune(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA cache_size = -2000")


def count_due(conn: Connection, on: date) -> int:
    """How many certificates :func:`stream_due` would give (for a progress bar)."""
    return conn.execute(_joined(select(func.count())).where(_due_filter(on))).scalar_one()


def stream_due(conn: Connection, on: date, *, batch: int = STREAM_BATCH
               ) -> Iterator[DueCertificate]:
    """The due certificates, streamed (a server-side cursor on PostgreSQL)."""
    result = conn.execution_options(stream_results=True, yield_per=batch).execute(
        due_statement(on))
    try:
        for rows in result.partitions():
            for row in rows:
                if expiry_notice_due(row.not_after, on, expiry_rule=ended_by(row)):
                    yield DueCertificate(*row[:-1])
    finally:
        result.close()


def ended_by(row) -> str:
    """The rule that ended the validity, for R3.4 (see the module text)."""
    if row.stay_until is not None and row.stay_until == row.not_after:
        return STAY_RULE
    return row.expiry_rule


def group_notices(rows: Iterator[DueCertificate]) -> Iterator[DueNotice]:
    """One notice per card and expiry day (the rows come ordered by card and day)."""
    for (card_id, not_after), group in groupby(rows, key=lambda r: (r.card_id, r.not_after)):
        yield DueNotice(card_id, not_after, tuple(group))
