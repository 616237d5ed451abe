"""The relying party's own records: registrations, the certificates linked to each, single-use
challenges and log-in sessions.

A relying party (e-Tax, a bank) is another organisation than the authorities: it keeps its own
database, never the authorities' store.  Here it is a small SQLAlchemy database of its own
(default ``<home>/relying-party.sqlite3``), created on first use from these table definitions
(its own MetaData, not part of the authorities' migrations).  Session tokens are stored as
SHA-256 hashes only.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON, Boolean, Column, DateTime, ForeignKey, Index, LargeBinary, MetaData, String, Table,
)
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

from datetime import datetime, timezone

from openjpki.store.engine import make_engine

metadata = MetaData()


class _UTC(TypeDecorator):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite keeps no zone)."""

    impl = DateTime()
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=timezone.utc)


registrations = Table(
    "rp_registrations", metadata,
    Column("id", String(32), primary_key=True),
    # The holder as the register links certificates ("resident:<id>"), None when unknown.
    Column("holder_key", String(128), nullable=True, index=True),
    Column("facts", JSON, nullable=False),
    Column("created_at", _UTC, nullable=False),
    Column("updated_at", _UTC, nullable=False),
)

certificates = Table(
    "rp_certificates", metadata,
    Column("serial", String(64), primary_key=True),  # lowercase hex, unique across both kinds
    Column("registration_id", String(32), ForeignKey("rp_registrations.id"), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("der", LargeBinary, nullable=False),
    Column("current", Boolean, nullable=False),
    Column("added_at", _UTC, nullable=False),
    Column("replaced_at", _UTC, nullable=True),
    Column("replaced_by", String(64), nullable=True),
    Index("ix_rp_certificates_registration", "registration_id", "kind", "current"),
)

challenges = Table(
    "rp_challenges", metadata,
    Column("id", String(32), primary_key=True),
    Column("purpose", String(16), nullable=False),
    Column("text", String(200), nullable=False),
    Column("issued_at", _UTC, nullable=False),
    Column("expires_at", _UTC, nullable=False),
    Column("used_at", _UTC, nullable=True),
)

sessions = Table(
    "rp_sessions", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("registration_id", String(32), ForeignKey("rp_registrations.id"), nullable=False),
    Column("auth_serial", String(64), nullable=False),
    Column("created_at", _UTC, nullable=False),
    Column("expires_at", _UTC, nullable=False),
    Column("ended", Boolean, nullable=False, default=False),
)


def open_database(url: str) -> Engine:
    """The relying party's engine, tables created when missing."""
    # The store's engine maker: on SQLite write-ahead logging, a busy timeout, writing
    # transactions that take the write lock first, and the file made 0600 before it is
    # opened (openjpki.store.engine).
    engine = make_engine(url)
    metadata.create_all(engine)
    return engine


def utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


__all__ = ["certificates", "challenges", "metadata", "open_database", "registrations", "sessions", "utc"]
