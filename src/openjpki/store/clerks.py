"""The counter's clerk accounts: who may sign in to the counter pages, and with which role.

- ``role``: ``clerk`` (every counter procedure for the holder or a representative) or
  ``supervisor`` (also the actions kept for a supervisor, e.g. a revocation or hold asked for
  by someone other than the holder, and managing clerk accounts).
- ``password_hash``: ``scrypt$N$r$p$salt$hash`` (hashlib.scrypt, base64 parts); the password
  itself is never stored or logged.
- ``session_epoch``: part of every signed session of the clerk; raised on sign-out, password
  change or disabling, which ends every session made before.
- ``failed_logins`` / ``locked_until``: the lock of stores made before the sign-in throttle
  (:mod:`openjpki.store.security`, ``sign_in_throttle``), which now counts wrong passwords
  per account, client address and both; cleared with it, never set any more.

``clerk_api_tokens``: the bearer tokens a clerk's programs call the JSON API with
(``openjpki clerk token create``). Only the SHA-256 of a token is kept (``token_hash``,
64 hex digits, unique: the lookup key); the token itself is shown once and never stored or
logged. A token works while it is not revoked (``revoked_at``), not expired (``expires_at``)
and its clerk's account is active (wrong passwords never stop a token).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from openjpki.store.models import Base, UTCDateTime

ROLES = ("clerk", "supervisor")


class Clerk(Base):
    __tablename__ = "clerks"
    __table_args__ = (
        CheckConstraint("role IN ('clerk', 'supervisor')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    last_login_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def clerk_by_name(s: Session, name: str, *, for_update: bool = False) -> Clerk | None:
    stmt = select(Clerk).where(Clerk.name == name)
    if for_update:
        stmt = stmt.with_for_update()
    return s.execute(stmt).scalar_one_or_none()


def clerk_by_id(s: Session, clerk_id: int) -> Clerk | None:
    return s.get(Clerk, clerk_id)


def all_clerks(s: Session) -> list[Clerk]:
    return list(s.execute(select(Clerk).order_by(Clerk.id)).scalars())


class ClerkToken(Base):
    __tablename__ = "clerk_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clerk_id: Mapped[int] = mapped_column(ForeignKey("clerks.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    revoked_by: Mapped[Optional[str]] = mapped_column(String(100), nullable=True)


def token_by_hash(s: Session, token_hash: str) -> tuple[ClerkToken, Clerk] | None:
    """The token whose SHA-256 (hex) is ``token_hash``, with its clerk."""
    row = s.execute(select(ClerkToken, Clerk).join(Clerk, Clerk.id == ClerkToken.clerk_id)
                    .where(ClerkToken.token_hash == token_hash)).first()
    return (row[0], row[1]) if row is not None else None


def token_by_id(s: Session, token_id: int, *, for_update: bool = False
                ) -> tuple[ClerkToken, Clerk] | None:
    stmt = (select(ClerkToken, Clerk).join(Clerk, Clerk.id == ClerkToken.clerk_id)
            .where(ClerkToken.id == token_id))
    if for_update:
        stmt = stmt.with_for_update(of=ClerkToken)
    row = s.execute(stmt).first()
    return (row[0], row[1]) if row is not None else None


def tokens_of(s: Session, clerk_id: int | None = None) -> list[tuple[ClerkToken, Clerk]]:
    """Every token (of one clerk when ``clerk_id`` is given), oldest first."""
    stmt = (select(ClerkToken, Clerk).join(Clerk, Clerk.id == ClerkToken.clerk_id)
            .order_by(ClerkToken.id))
    if clerk_id is not None:
        stmt = stmt.where(ClerkToken.clerk_id == clerk_id)
    return [(t, c) for t, c in s.execute(stmt).all()]
