"""What the store keeps against guessing and replay: sign-in throttles and single-use
challenges.

- ``sign_in_throttle``: one row per thing that signs in with a password and can be
  throttled — an account (``account:<name>``), a client address (``address:<ip>``) and the
  pair of both (``pair:<name>@<ip>``). ``failures`` counts wrong passwords since the last
  right one; ``blocked_until`` is the moment before which no further try of that key is
  checked (a delay that grows with the failures); ``last_failure_at`` says when; ``signed_in_at`` (pairs) when a right
  password last came from that address — such an address is not slowed down by the
  account's own delay, so failures from elsewhere cannot lock the clerk out. A try is
  counted by one atomic ``UPDATE … SET failures = failures + 1 … RETURNING`` before the
  password is checked, so parallel tries cannot all see the same count.
- ``single_use_challenges``: a challenge the server handed out (the portal's log-in, the
  kiosk's) with the hash of the session it was handed to (``binding``: SHA-256 hex of a
  value only that session's cookie carries), its expiry (``expires_at``, real clock) and the
  moment it was used (``used_at``). It is used by one conditional ``UPDATE … WHERE used_at IS
  NULL AND binding = …``: the first answer wins, any replay (the same cookie again, another
  session) finds it used.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from openjpki.store.models import Base, UTCDateTime


class SignInThrottle(Base):
    __tablename__ = "sign_in_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    last_failure_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    # For a pair: the last right password from that address (a known workstation).
    signed_in_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SingleUseChallenge(Base):
    __tablename__ = "single_use_challenges"
    __table_args__ = (Index(None, "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    binding: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[Optional[datetime]] = mapped_column(UTCDateTime, nullable=True)
