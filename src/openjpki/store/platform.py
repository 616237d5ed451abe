"""The platform's records (the プラットフォーム事業者 API, services.platform): service
providers, their registrations, the certificates linked to each, and the nonces seen.

- ``platform_providers``: one row per service provider contract id (the ``sender`` of a
  request). ``enabled`` false refuses its calls; ``origin`` says who made it (``cli``: an
  operator's ``openjpki platform provider add``; ``sandbox``: made on first use in the
  sandbox).
- ``platform_registrations``: one person at one provider. ``tis_user_id`` is the platform's
  stable id for that person at that provider (a random UUID, so two providers get unrelated
  ids for the same person: pairwise); it never changes, a replacement keeps it. ``holder_key``
  is the register's holder (``resident:<id>``, services.relying_party_links), unique per
  provider, so a second registration of the same holder is a conflict whatever the
  certificate. The four facts are those of the SIGN certificate last accepted.
- ``platform_certificates``: the SIGN and AUTH certificates linked to a registration
  (紐付け); ``current`` false once replaced. A serial belongs to one registration per provider.
- ``platform_nonces``: a signed nonce accepted for one call of one provider, until
  ``expires_at`` (the replay window). The unique constraint is what makes a replay lose: two
  requests racing with the same nonce insert the same row and only one insert succeeds.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openjpki.store.models import Base, BigId, UTCDateTime

ORIGINS = ("cli", "sandbox")
CALLS = ("registration", "login", "replacement")
CERT_KINDS = ("sign", "auth")


class PlatformProvider(Base):
    __tablename__ = "platform_providers"
    __table_args__ = (
        UniqueConstraint("name"),
        CheckConstraint("origin IN ('cli', 'sandbox')", name="origin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(200), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    origin: Mapped[str] = mapped_column(String(8), default="cli")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    disabled_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


class PlatformRegistration(Base):
    __tablename__ = "platform_registrations"
    __table_args__ = (
        UniqueConstraint("tis_user_id"),
        UniqueConstraint("provider_id", "holder_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("platform_providers.id"))
    tis_user_id: Mapped[str] = mapped_column(String(36))
    applicant_id: Mapped[str] = mapped_column(String(64))
    holder_key: Mapped[Optional[str]] = mapped_column(String(128), nullable=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(400))
    date_of_birth: Mapped[str] = mapped_column(String(10))
    gender: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlatformCertificate(Base):
    __tablename__ = "platform_certificates"
    __table_args__ = (
        UniqueConstraint("provider_id", "serial"),
        CheckConstraint("kind IN ('sign', 'auth')", name="kind"),
        Index(None, "registration_id", "kind", "current"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("platform_providers.id"))
    registration_id: Mapped[int] = mapped_column(ForeignKey("platform_registrations.id"))
    kind: Mapped[str] = mapped_column(String(8))
    serial: Mapped[str] = mapped_column(String(64))
    der: Mapped[bytes] = mapped_column(LargeBinary)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)
    replaced_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


class PlatformNonce(Base):
    __tablename__ = "platform_nonces"
    __table_args__ = (
        UniqueConstraint("provider_id", "call", "digest"),
        CheckConstraint("call IN ('registration', 'login', 'replacement')", name="call"),
        Index(None, "expires_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("platform_providers.id"))
    call: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 (hex) of the nonce's bytes
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


__all__ = ["CALLS", "CERT_KINDS", "ORIGINS", "PlatformCertificate", "PlatformNonce", "PlatformProvider",
           "PlatformRegistration"]
