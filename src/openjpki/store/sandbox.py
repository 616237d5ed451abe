"""The sandbox's persisted settings: its clock and the faults injected into the responders.

- ``sandbox_settings``: one row (id 1). ``clock_mode`` is ``real`` (the wall clock, the
  default when the row is missing), ``offset`` (the wall clock plus ``offset_us``
  microseconds: time keeps running from the moment set) or ``fixed`` (``fixed_at``, standing
  still). ``revision`` goes up by one with every change of the clock or of a fault, so a
  running server notices a change made by another process (the CLI) with one small query and
  drops the OCSP answers and CRLs it made at another clock position.
- ``sandbox_faults``: one row per fault switched on, for a responder (``ocsp`` or ``crl``)
  and a scope: every certificate (``kind`` and ``serial`` empty), one authority (``kind``
  ``sign``/``auth``) or one certificate (``serial``, lowercase hexadecimal).

Nothing here is read unless the service runs in sandbox mode (services.sandbox_mode).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import BigInteger, CheckConstraint, Integer, String, UniqueConstraint, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from openjpki.store.models import Base, UTCDateTime

SETTINGS_ID = 1
CLOCK_MODES = ("real", "offset", "fixed")
RESPONDERS = ("ocsp", "crl")


class SandboxSetting(Base):
    __tablename__ = "sandbox_settings"
    __table_args__ = (
        CheckConstraint("clock_mode IN ('real', 'offset', 'fixed')", name="clock_mode"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    clock_mode: Mapped[str] = mapped_column(String(8), default="real")
    offset_us: Mapped[int] = mapped_column(BigInteger, default=0)
    fixed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxFault(Base):
    __tablename__ = "sandbox_faults"
    __table_args__ = (
        UniqueConstraint("responder", "kind", "serial"),
        CheckConstraint("responder IN ('ocsp', 'crl')", name="responder"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    responder: Mapped[str] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(8), default="")      # '' every authority
    serial: Mapped[str] = mapped_column(String(64), default="")   # '' every certificate
    fault: Mapped[str] = mapped_column(String(24))
    delay_ms: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


def settings_row(s: Session, now: datetime, *, for_update: bool = False) -> SandboxSetting:
    """The one settings row, made (real clock) when missing."""
    stmt = (select(SandboxSetting).where(SandboxSetting.id == SETTINGS_ID)
            .execution_options(populate_existing=True))
    if for_update:
        stmt = stmt.with_for_update()
    row = s.execute(stmt).scalar_one_or_none()
    if row is not None:
        return row
    try:
        with s.begin_nested():
            s.add(SandboxSetting(id=SETTINGS_ID, clock_mode="real", offset_us=0, fixed_at=None,
                                 revision=0, updated_at=now))
    except IntegrityError:
        pass  # another process made it first
    return s.execute(stmt).scalar_one()


def bump_revision(s: Session, now: datetime) -> int:
    """One more change of the sandbox (clock or faults); the new revision. Call it FIRST in a
    writer's transaction: the UPDATE takes SQLite's write lock and PostgreSQL's row lock, so
    writers are serialised and what they read next is current (no lost updates)."""
    settings_row(s, now)
    return s.execute(update(SandboxSetting).where(SandboxSetting.id == SETTINGS_ID)
                     .values(revision=SandboxSetting.revision + 1, updated_at=now)
                     .returning(SandboxSetting.revision)).scalar_one()


def read_settings(conn: Connection) -> Optional[tuple[str, int, Optional[datetime], int]]:
    """(clock_mode, offset_us, fixed_at, revision), or None when never set."""
    row = conn.execute(select(SandboxSetting.clock_mode, SandboxSetting.offset_us,
                              SandboxSetting.fixed_at, SandboxSetting.revision)
                       .where(SandboxSetting.id == SETTINGS_ID)).first()
    return None if row is None else (row[0], int(row[1]), row[2], int(row[3]))


def read_revision(conn: Connection) -> int:
    value = conn.execute(select(SandboxSetting.revision)
                         .where(SandboxSetting.id == SETTINGS_ID)).scalar_one_or_none()
    return int(value or 0)


def all_faults(s: Session) -> list[SandboxFault]:
    return list(s.execute(select(SandboxFault).order_by(SandboxFault.id)).scalars())


def fault_at(s: Session, responder: str, kind: str, serial: str) -> Optional[SandboxFault]:
    return s.execute(select(SandboxFault).where(
        SandboxFault.responder == responder, SandboxFault.kind == kind,
        SandboxFault.serial == serial)).scalar_one_or_none()
