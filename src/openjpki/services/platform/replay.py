"""The replay window: a signed nonce is accepted once per provider and call within the window.

One atomic INSERT under the unique constraint (provider, call, digest of the nonce) decides,
so of two requests racing with the same nonce exactly one wins, on SQLite and on PostgreSQL
alike; when the row it meets is past its window, that row is deleted and the INSERT made
again (the nonce may be used again after the window).
The call is part of the key: the contract sends the nonce of a login that was answered 410
again in the replacement call, signed with the new SIGN key, and that reuse is allowed; the
same nonce in a second login (or registration, or replacement) is not.
Rows past their window are purged now and then, by whichever call comes.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from openjpki.services.platform.answers import Call
from openjpki.store import Store
from openjpki.store.platform import PlatformNonce

DEFAULT_WINDOW = timedelta(minutes=10)
PURGE_EVERY = 500
_calls = itertools.count()
_INSERT = insert(PlatformNonce.__table__)  # built once; the values come with each execution


def digest(nonce: bytes) -> str:
    return hashlib.sha256(nonce).hexdigest()


def enter_nonce(conn, provider_id: int, call: Call, nonce: bytes, now: datetime,
                window: timedelta = DEFAULT_WINDOW) -> None:
    """The nonce's row, in the caller's transaction (a connection or a session): one INSERT,
    whose commit fails with IntegrityError when the nonce has a row — accepted within the
    window (:func:`seen`), or an old one past it (:func:`forget_expired`, then again)."""
    conn.execute(_INSERT, {"provider_id": provider_id, "call": call.value, "digest": digest(nonce),
                           "used_at": now, "expires_at": now + window})
    if next(_calls) % PURGE_EVERY == PURGE_EVERY - 1:
        table = PlatformNonce.__table__
        conn.execute(delete(table).where(table.c.expires_at <= now - window))


def forget_expired(store: Store, provider_id: int, call: Call, nonce: bytes, now: datetime) -> None:
    table = PlatformNonce.__table__
    with store.engine.begin() as conn:
        conn.execute(delete(table).where(
            table.c.provider_id == provider_id, table.c.call == call.value, table.c.digest == digest(nonce),
            table.c.expires_at <= now))


def seen(store: Store, provider_id: int, call: Call, nonce: bytes, now: datetime) -> bool:
    """Whether the nonce is in the window now (after a refused commit: was it the nonce?)."""
    table = PlatformNonce.__table__
    with store.engine.connect() as conn:
        return conn.execute(select(table.c.id).where(
            table.c.provider_id == provider_id, table.c.call == call.value, table.c.digest == digest(nonce),
            table.c.expires_at > now)).first() is not None


def accept_nonce(store: Store, provider_id: int, call: Call, nonce: bytes, now: datetime,
                 window: timedelta = DEFAULT_WINDOW) -> bool:
    """True the first time within the window; False for a replay (its own transaction)."""
    for attempt in (1, 2):
        try:
            with store.engine.begin() as conn:
                enter_nonce(conn, provider_id, call, nonce, now, window)
            return True
        except IntegrityError:
            if attempt == 2 or seen(store, provider_id, call, nonce, now):
                return False
            forget_expired(store, provider_id, call, nonce, now)
    return False


__all__ = ["DEFAULT_WINDOW", "accept_nonce", "digest", "enter_nonce", "forget_expired", "seen"]
