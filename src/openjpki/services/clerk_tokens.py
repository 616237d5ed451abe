"""Clerks' API tokens: made, listed and revoked (``openjpki clerk token …``), and checked on
every request of the JSON API that carries one (``Authorization: Bearer …``).

A token is ``ojpk_`` followed by 43 characters of base64url: 32 bytes (256 bits) from
:mod:`secrets`. The prefix makes a leaked token recognisable (secret scanners, logs). It is
shown once, when made; the store keeps only its SHA-256 (hex, ``clerk_api_tokens.token_hash``)
— a fast hash is enough for a random 256-bit secret, nothing can be guessed from it. A
presented token is hashed, looked up by that hash and the hashes compared again with
:func:`hmac.compare_digest` (constant time); timing the lookup tells an attacker about the
hash of their own guess only. No token, nor its hash, is ever logged or written to the
audit log (``clerk.token_created`` / ``clerk.token_revoked`` name the token's id).

A token acts as its clerk, with the clerk's role (:func:`openjpki.services.clerks.may`). It
stops working when revoked, when it expires (``--expires-days``; by default it lasts until
revoked), and while its clerk's account is disabled. Wrong passwords on the sign-in page
never stop a token (anyone can type them: a lock there must not switch off a clerk's
programs). Expiry is decided on real time, never on the sandbox's movable clock.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Optional, Union

from sqlalchemy import or_, update

from openjpki.services.audit import record
from openjpki.services.clerks import ClerkError, ClerkView, clerk_view
from openjpki.store import Store
from openjpki.store.clerks import ClerkToken, clerk_by_name, token_by_hash, token_by_id, tokens_of

TOKEN_PREFIX = "ojpk_"
TOKEN_BYTES = 32  # 256 bits
TOKEN_RE = re.compile(r"^ojpk_[A-Za-z0-9_-]{43}$")
MAX_EXPIRES_DAYS = 3650
MAX_LABEL = 200
# ``last_used_at`` is written at most this often per token (not one write per request).
LAST_USED_EVERY = timedelta(minutes=1)


def new_token() -> str:
    """A fresh token (256 random bits, base64url, with the recognisable prefix)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def token_digest(token: str) -> str:
    """What the store keeps of a token: its SHA-256, 64 hex digits."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenView:
    """A token as ``clerk token list`` shows it (never the token or its hash)."""

    id: int
    clerk: str
    label: str
    created_at: datetime
    created_by: str
    expires_at: Optional[datetime]
    last_used_at: Optional[datetime]
    revoked_at: Optional[datetime]
    revoked_by: Optional[str]

    def state(self, now: datetime) -> str:
        """``revoked``, ``expired`` or ``active`` at ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_dict(self, now: datetime) -> dict[str, Any]:
        def iso(t: Optional[datetime]) -> Optional[str]:
            return t.isoformat() if t is not None else None
        return {"id": self.id, "clerk": self.clerk, "label": self.label,
                "state": self.state(now), "created_at": iso(self.created_at),
                "created_by": self.created_by, "expires_at": iso(self.expires_at),
                "last_used_at": iso(self.last_used_at), "revoked_at": iso(self.revoked_at),
                "revoked_by": self.revoked_by}


def _token_view(t: ClerkToken, clerk_name: str) -> TokenView:
    return TokenView(t.id, clerk_name, t.label, t.created_at, t.created_by, t.expires_at,
                     t.last_used_at, t.revoked_at, t.revoked_by)


@dataclass(frozen=True)
class NewToken:
    """A token just made: the only time the token itself is in hand."""

    token: str
    view: TokenView

    def to_dict(self, now: datetime) -> dict[str, Any]:
        return {**self.view.to_dict(now), "token": self.token}


def check_label(label: Optional[str]) -> str:
    text = (label or "").strip()
    if len(text) > MAX_LABEL or any(ord(c) < 0x20 for c in text):
        raise ClerkError("label", f"ラベルは{MAX_LABEL}文字以内で、制御文字は使えません。",
                         f"The label has at most {MAX_LABEL} characters and no control "
                         "character.")
    return text


def check_expires_days(days: Optional[int]) -> Optional[int]:
    if days is not None and not 1 <= days <= MAX_EXPIRES_DAYS:
        raise ClerkError("expires_days", f"有効日数は1〜{MAX_EXPIRES_DAYS}日です。",
                         f"--expires-days must be 1-{MAX_EXPIRES_DAYS}.")
    return days


def _no_clerk(name: str) -> ClerkError:
    return ClerkError("name", f"職員「{name}」はいません。", f"No clerk {name!r}.")


def create_token(store: Store, name: str, *, now: datetime, label: Optional[str] = None,
                 expires_days: Optional[int] = None, actor: str = "system") -> NewToken:
    """A new token for the clerk ``name`` (ClerkError: no such clerk, a bad label or
    expiry). A disabled clerk may be given one: it works once the account is enabled."""
    text = check_label(label)
    check_expires_days(expires_days)
    token = new_token()
    with store.transaction() as s:
        c = clerk_by_name(s, (name or "").strip())
        if c is None:
            raise _no_clerk(name)
        expires = now + timedelta(days=expires_days) if expires_days is not None else None
        t = ClerkToken(clerk_id=c.id, token_hash=token_digest(token), label=text,
                       created_at=now, created_by=actor, expires_at=expires)
        s.add(t)
        s.flush()
        record(s, "clerk.token_created", now, actor=actor, subject=f"clerk:{c.name}",
               token_id=t.id, label=text, expires_at=expires)
        return NewToken(token, _token_view(t, c.name))


def list_tokens(store: Store, name: Optional[str] = None) -> list[TokenView]:
    """Every token, or the clerk ``name``'s (ClerkError when there is no such clerk)."""
    with store.sessions() as s:
        clerk_id = None
        if name is not None:
            c = clerk_by_name(s, name.strip())
            if c is None:
                raise _no_clerk(name)
            clerk_id = c.id
        return [_token_view(t, c.name) for t, c in tokens_of(s, clerk_id)]


def revoke_token(store: Store, token_id: int, *, now: datetime, actor: str = "system"
                 ) -> tuple[TokenView, bool]:
    """Revoke a token at once; (the token, whether this call revoked it — False when it
    already was). ClerkError when there is no such token."""
    with store.transaction() as s:
        found = token_by_id(s, token_id, for_update=True)
        if found is None:
            raise ClerkError("id", f"トークン {token_id} はありません。",
                             f"No API token {token_id}.")
        t, c = found
        if t.revoked_at is not None:
            return _token_view(t, c.name), False
        t.revoked_at, t.revoked_by = now, actor
        record(s, "clerk.token_revoked", now, actor=actor, subject=f"clerk:{c.name}",
               token_id=t.id, label=t.label)
        return _token_view(t, c.name), True


# --- authentication -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Authenticated:
    """A good token: its clerk (the role and the audit log's actor) and the token's id."""

    clerk: ClerkView
    token_id: int


@dataclass(frozen=True)
class TokenRefused:
    """Why a token does not work. ``why``: malformed, unknown, revoked, expired,
    or clerk_disabled; ``description`` is RFC 6750's error_description."""

    why: str
    description: str
    message_ja: str
    token_id: Optional[int] = None


_REFUSALS = {
    "malformed": ("the token is not an OpenJPKI API token",
                  "OpenJPKI の API トークンではありません。"),
    "unknown": ("the token is not known", "このトークンは登録されていません。"),
    "revoked": ("the token has been revoked", "このトークンは失効しています。"),
    "expired": ("the token has expired", "このトークンは有効期限を過ぎています。"),
    "clerk_disabled": ("the token's clerk account is disabled",
                       "このトークンの職員アカウントは停止されています。"),
}


def _refused(why: str, token_id: Optional[int] = None) -> TokenRefused:
    en, ja = _REFUSALS[why]
    return TokenRefused(why, en, ja, token_id)


def authenticate(store: Store, presented: str, *, now: datetime
                 ) -> Union[Authenticated, TokenRefused]:
    """The clerk of a presented token at ``now`` (real time), or why it does not work."""
    if not isinstance(presented, str) or not TOKEN_RE.match(presented):
        return _refused("malformed")
    digest = token_digest(presented)
    with store.sessions() as s:
        found = token_by_hash(s, digest)
        if found is None or not hmac.compare_digest(found[0].token_hash.encode("ascii"),
                                                     digest.encode("ascii")):
            return _refused("unknown")
        t, c = found
        if t.revoked_at is not None:
            return _refused("revoked", t.id)
        if t.expires_at is not None and t.expires_at <= now:
            return _refused("expired", t.id)
        if not c.active:
            return _refused("clerk_disabled", t.id)
        good = Authenticated(clerk_view(c), t.id)
        stale = t.last_used_at is None or now - t.last_used_at >= LAST_USED_EVERY
    if stale:
        _touch(store, good.token_id, now)
    return good


def _touch(store: Store, token_id: int, now: datetime) -> None:
    """Note the use (at most once per LAST_USED_EVERY; concurrent requests write once)."""
    with store.transaction() as s:
        s.execute(update(ClerkToken).where(
            ClerkToken.id == token_id,
            or_(ClerkToken.last_used_at.is_(None),
                ClerkToken.last_used_at <= now - LAST_USED_EVERY)).values(last_used_at=now))
