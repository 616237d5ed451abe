"""The tables of the authorities' store (SQLAlchemy 2 declarative models).

Migrations under ``openjpki/store/migrations`` are the only way the schema is created; a test
checks that they match these models exactly. Later parts (residents, cards) add their own
tables with new migrations; ``certificates.resident_id`` is a plain column until then.

Nothing here ever holds key material: an authority row names its encrypted key file.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Optional

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so migrations and models compare equal on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

KINDS = ("sign", "auth")
STATUSES = ("good", "revoked", "hold")

# Surrogate keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """A moment, always handed back timezone-aware in UTC (SQLite keeps no zone; values are
    stored as naive UTC there and as timestamptz on PostgreSQL)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: times in the store are timezone-aware")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Optional[datetime], dialect: Any) -> Optional[datetime]:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Authority(Base):
    """One generation of one of the two authorities (SIGN 署名用, AUTH 利用者証明用).

    Several generations of a kind may coexist (PROFILES.md: same DN, new key); the newest
    issues. ``revision`` is bumped in the same transaction as every status change of one of its
    certificates, so caches (OCSP responses, CRLs) in any process can tell they are stale.
    """

    __tablename__ = "authorities"
    __table_args__ = (
        UniqueConstraint("kind", "generation"),
        CheckConstraint("kind IN ('sign', 'auth')", name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    generation: Mapped[int] = mapped_column(Integer)
    environment: Mapped[str] = mapped_column(String(16))
    root_der: Mapped[bytes] = mapped_column(LargeBinary)
    # A file name under <home>/keys (an encrypted PKCS#8 file); never the key itself.
    key_file: Mapped[str] = mapped_column(String(255))
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Certificate(Base):
    """An issued end-entity certificate and its revocation state.

    ``serial`` is the lowercase hexadecimal serial number without leading zeros, unique across
    both authorities (a database constraint). ``revoked_entry`` is the DER of the CRL entry,
    computed once when the certificate stops being good and rewritten when a hold becomes a
    revocation (R4.3), so CRLs are made by streaming these bytes.
    """

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("serial"),
        CheckConstraint("kind IN ('sign', 'auth')", name="kind"),
        CheckConstraint("status IN ('good', 'revoked', 'hold')", name="status"),
        CheckConstraint(
            "status = 'good' OR (revoked_at IS NOT NULL AND revoked_entry IS NOT NULL)",
            name="revoked_has_entry",
        ),
        # Covers the CRL scan (authority, status, partition → the entry DER): a CRL of
        # millions of entries is read from this index alone, never from the rows.
        Index(None, "authority_id", "status", "partition", "revoked_entry"),
        Index(None, "authority_id", "change_seq"),
        Index(None, "resident_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64))
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    kind: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[str] = mapped_column(String(128))
    resident_id: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    # The municipality partition of the SIGN CRL (openjpki.pki.partition_id); None for AUTH.
    partition: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    der: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(8), default="good")
    # A cryptography ReasonFlags value ("keyCompromise", "certificateHold", …).
    reason: Mapped[Optional[str]] = mapped_column(String(32), nullable=True)
    # The revocationDate published (the moment it stopped being good; a hold keeps it, R4.3).
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    status_changed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    revoked_entry: Mapped[Optional[bytes]] = mapped_column(LargeBinary, nullable=True)
    # The authority's revision at this certificate's last status change (see Authority).
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CrlSeries(Base):
    """The CRL number counter of one authority's full CRL (partition '') or of one
    municipality's partition of it; numbers only ever increase (RFC 5280 §5.2.3)."""

    __tablename__ = "crl_series"
    __table_args__ = (UniqueConstraint("authority_id", "partition"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    partition: Mapped[str] = mapped_column(String(64), default="")
    prefecture: Mapped[Optional[str]] = mapped_column(String(64), nullable=True)
    municipality: Mapped[Optional[str]] = mapped_column(String(128), nullable=True)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)
    last_issued_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


class OcspResponse(Base):
    """The pre-produced OCSP response of one certificate (``services.ocsp_producer``): the DER
    the responder serves by lookup, signed ahead of need, and when it is due again.

    ``change_seq`` is the certificate's own ``change_seq`` the response states; a status change
    writes the new one here with ``der`` NULL and ``refresh_at`` 0 in its own transaction (due
    at once), and the producer's write is kept only when its ``change_seq`` is not older than
    the row's, so a response read before a change never lands after it. Times are Unix
    seconds (read on the request path without date parsing).
    """

    __tablename__ = "ocsp_responses"
    # On SQLite the rows live in the primary key's B-tree (WITHOUT ROWID): the lookup by
    # serial is one tree search instead of two (the key's index, then the row).
    __table_args__ = (Index(None, "authority_id", "refresh_at"), {"sqlite_with_rowid": False})

    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    authority_id: Mapped[int] = mapped_column(ForeignKey("authorities.id"))
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    refresh_at: Mapped[int] = mapped_column(BigInteger, default=0)
    this_update: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    next_update: Mapped[Optional[int]] = mapped_column(BigInteger, nullable=True)
    der: Mapped[Optional[bytes]] = mapped_column(LargeBinary, nullable=True)
