"""Deferred counter work (R5.9): the durable queue and the authorities' availability switch.

- ``deferred_items``: one row per application the counter accepted while the authorities
  were unavailable or overloaded. The row is written in the SAME transaction as the
  application (nothing accepted can be lost), holds the PINs the resident entered only
  sealed (AES-256-GCM under the counter key, bound to the application id; wiped once the
  work is done) and moves ``queued`` → ``running`` (claimed by a worker with a lease) →
  ``done`` / ``refused`` (or ``failed``, held for the operator after repeated errors that
  are not an outage). ``letter_id`` is the letter that returned the card by 本人限定郵便.
- ``deferred_switches``: named switches shared by every process on the store; the row
  ``authorities`` says whether the central system is reachable (an operator's or a test's
  switch; the in-process circuit breaker of :mod:`openjpki.services.deferred_health` comes
  on top).
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import (
    JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from openjpki.store.models import Base, UTCDateTime

ITEM_STATES = ("queued", "running", "done", "refused", "failed")
FINAL_STATES = ("done", "refused")


class DeferredItem(Base):
    __tablename__ = "deferred_items"
    __table_args__ = (
        UniqueConstraint("application_id"),
        CheckConstraint(
            "state IN ('queued', 'running', 'done', 'refused', 'failed')", name="state"),
        Index(None, "state", "available_at"),
        Index(None, "resident_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"))
    resident_id: Mapped[int] = mapped_column(ForeignKey("residents.id"))
    procedure: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(10), default="queued")
    # Why the work was deferred ("authorities offline: …", "overloaded" …).
    reason: Mapped[str] = mapped_column(String(200))
    # The PINs entered at the counter, sealed with the counter key (never in clear at rest);
    # NULL once the item is finished.
    pins_sealed: Mapped[Optional[bytes]] = mapped_column(LargeBinary, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Not to be claimed before this moment (back-off after an error).
    available_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lease_owner: Mapped[Optional[str]] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[Optional[str]] = mapped_column(String(300), nullable=True)
    # The outcome (Completed or Refused, as the API shows them). Never a PIN.
    result: Mapped[Optional[dict]] = mapped_column(JSON, nullable=True)
    letter_id: Mapped[Optional[int]] = mapped_column(ForeignKey("letters.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)


class DeferredSwitch(Base):
    __tablename__ = "deferred_switches"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    changed_by: Mapped[str] = mapped_column(String(100))
