"""Single-use challenges kept by the server and bound to the session they were handed to
(the portal's log-in; the table is :class:`openjpki.store.security.SingleUseChallenge`).

    cid, text = issue(store, "portal", session_secret, ttl=timedelta(minutes=5), now=now)
    text = consume(store, "portal", cid, session_secret, now=now)   # None: not valid

``session_secret`` is a value only the asking session's cookie carries (the pages use the
session's CSRF token); the store keeps its SHA-256 only. :func:`consume` is one conditional
``UPDATE … SET used_at = now WHERE id = … AND binding = … AND used_at IS NULL AND expires_at >
now``: of any number of answers — parallel ones, the same cookie replayed, another session —
exactly one finds the challenge unused, whatever its outcome later. Time is the real clock.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Optional

from sqlalchemy import delete, select, update

from openjpki.store import Store
from openjpki.store.security import SingleUseChallenge

KEEP_USED = timedelta(hours=1)  # used or expired rows are removed this long after expiry


def _binding(secret: str) -> str:
    return hashlib.sha256(("openjpki-challenge:" + secret).encode("utf-8")).hexdigest()


def issue(store: Store, purpose: str, session_secret: str, *, ttl: timedelta, now: datetime,
          prefix: str = "") -> tuple[str, str]:
    """A new challenge: (id, the text to sign)."""
    cid = secrets.token_urlsafe(24)
    text = f"{prefix}{secrets.token_urlsafe(32)}"
    with store.transaction() as s:
        s.execute(delete(SingleUseChallenge).where(
            SingleUseChallenge.expires_at < now - KEEP_USED)
            .execution_options(synchronize_session=False))
        s.add(SingleUseChallenge(id=cid, purpose=purpose, binding=_binding(session_secret),
                                 text=text, issued_at=now, expires_at=now + ttl))
    return cid, text


def consume(store: Store, purpose: str, challenge_id: object, session_secret: object, *,
            now: datetime) -> Optional[str]:
    """The challenge's text if this call used it (once, by its own session, unexpired)."""
    if not isinstance(challenge_id, str) or not isinstance(session_secret, str) \
            or not 0 < len(challenge_id) <= 64:
        return None
    with store.transaction() as s:
        used = s.execute(update(SingleUseChallenge).where(
            SingleUseChallenge.id == challenge_id, SingleUseChallenge.purpose == purpose,
            SingleUseChallenge.binding == _binding(session_secret),
            SingleUseChallenge.used_at.is_(None), SingleUseChallenge.expires_at > now)
            .values(used_at=now).execution_options(synchronize_session=False)).rowcount
        if used != 1:
            return None
        return s.execute(select(SingleUseChallenge.text)
                         .where(SingleUseChallenge.id == challenge_id)).scalar_one()


__all__ = ["consume", "issue"]
