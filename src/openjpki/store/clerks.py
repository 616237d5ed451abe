"""The counter's clerk accounts: who may sign in to the counter pages, and with which role.

- ``role``: ``clerk`` (every counter procedure for the holder or a representative) or
  ``supervisor`` (also the actions kept for a supervisor, e.g. a revocation or hold asked for
  by someone other than the holder, and managing clerk accounts).
- ``password_hash``: ``scrypt$N$r$p$salt$hash`` (hashlib.scrypt, base64 parts); the password
  itself is never stored or logged.
- ``session_epoch``: part of every signed session of the clerk; raised on sign-out, password
  change or disabling, which ends every session made before.
- ``failed_logins`` / ``locked_until``: consecutive wrong passwords and the lock they cause.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, Integer, String, select
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
