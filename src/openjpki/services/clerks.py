"""Clerk accounts of the counter pages: add, sign in, roles, and what a role may do.

Passwords are hashed with scrypt (``hashlib.scrypt``, N=2**14, r=8, p=1, a 16-byte salt);
a stored hash reads ``scrypt$N$r$p$salt$hash``. Checking compares in constant time.
Wrong passwords are throttled per account, per client address and per both
(:mod:`openjpki.services.signin_throttle`): five in a row from one address hold that address
for 15 minutes; an outsider cannot lock the clerk out, and no API token is affected. Every change is in the audit log (``clerk.added``,
``clerk.signed_in``, ``clerk.sign_in_failed`` …) — never a password.

Roles (**Decision**, the seeds name no roles): a ``clerk`` does every counter procedure;
a ``supervisor`` also does what :func:`needs_supervisor` keeps for them — a revocation or
hold asked for by someone other than the holder (a representative or a proxy, R4.3), putting
failed deferred work back in the queue (R5.9), switching the authorities' availability for
every process (R5.9: it sends all the counters' work to the deferred queue) and managing
clerk accounts. The counter pages and the JSON API (with a clerk's API token,
:mod:`openjpki.services.clerk_tokens`) ask :func:`may` alike.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Optional

from sqlalchemy.exc import IntegrityError

from openjpki.services import signin_throttle as throttle
from openjpki.services.audit import record
from openjpki.store import Store
from openjpki.store.clerks import ROLES, Clerk, all_clerks, clerk_by_id, clerk_by_name

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32
MIN_PASSWORD = 10
MAX_PASSWORD = 256
LOCK_AFTER = throttle.PAIR_LIMIT
LOCK_FOR = throttle.PAIR_LOCK
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# A hash checked when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY = None


class ClerkError(ValueError):
    """Input that cannot make or change an account (one line, the field named)."""

    def __init__(self, field: str, message_ja: str, message_en: str) -> None:
        super().__init__(message_en)
        self.field = field
        self.message_ja = message_ja
        self.message_en = message_en


# --- passwords -------------------------------------------------------------------------------

def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$hash`` of ``password``."""
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=HASH_BYTES)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Does ``password`` match the stored hash? (False for a malformed hash.)"""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        want = base64.b64decode(digest, validate=True)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt, validate=True),
                             n=int(n), r=int(r), p=int(p), dklen=len(want))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def password_problem(password: str) -> tuple[str, str] | None:
    """Why ``password`` cannot be a clerk's password (Japanese, English), or None."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        return (f"パスワードは{MIN_PASSWORD}文字以上にしてください。",
                f"The password needs at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD:
        return (f"パスワードは{MAX_PASSWORD}文字以内にしてください。",
                f"The password may have at most {MAX_PASSWORD} characters.")
    if any(ord(c) < 0x20 for c in password):
        return ("パスワードに制御文字は使えません。", "The password contains a control character.")
    return None


def _dummy_hash() -> str:
    global _DUMMY
    if _DUMMY is None:
        _DUMMY = hash_password("not a password of anyone")
    return _DUMMY


# --- accounts ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ClerkView:
    """A clerk as the pages and the CLI show them (never the hash)."""

    id: int
    name: str
    display_name: str
    role: str
    active: bool
    session_epoch: int

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    @property
    def actor(self) -> str:
        """How the clerk is named in the audit log."""
        return f"clerk:{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "display_name": self.display_name,
                "role": self.role, "active": self.active}


def clerk_view(c: Clerk) -> ClerkView:
    """The view of a stored account."""
    return ClerkView(c.id, c.name, c.display_name, c.role, c.active, c.session_epoch)


_view = clerk_view


def check_name(name: str) -> str:
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise ClerkError("name", "ログイン名は英小文字・数字・「. _ -」の2〜64文字です。",
                         "The sign-in name is 2-64 of a-z 0-9 . _ - (starting with a letter "
                         "or digit).")
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ClerkError("role", "役割は clerk（職員）または supervisor（監督者）です。",
                         "The role is clerk or supervisor.")
    return role


def add_clerk(store: Store, name: str, password: str, *, role: str = "clerk",
              display_name: str | None = None, now: datetime,
              actor: str = "system") -> ClerkView:
    """A new account (ClerkError for a bad name, role or password, or a name taken)."""
    name = check_name(name)
    role = check_role(role)
    problem = password_problem(password)
    if problem:
        raise ClerkError("password", *problem)
    display = (display_name or name).strip()
    if not display or len(display) > 200 or any(ord(c) < 0x20 for c in display):
        raise ClerkError("display_name", "表示名は1〜200文字です。",
                         "The display name has 1-200 characters.")
    try:
        with store.transaction() as s:
            if clerk_by_name(s, name) is not None:
                raise _taken(name)
            c = Clerk(name=name, display_name=display, role=role,
                      password_hash=hash_password(password), active=True, session_epoch=0,
                      failed_logins=0, created_at=now, updated_at=now)
            s.add(c)
            s.flush()
            record(s, "clerk.added", now, actor=actor, subject=f"clerk:{name}", role=role)
            return _view(c)
    except IntegrityError:
        raise _taken(name) from None


def _taken(name: str) -> ClerkError:
    return ClerkError("name", f"ログイン名「{name}」は既に使われています。",
                      f"The sign-in name {name!r} is already taken.")


@dataclass(frozen=True)
class SignInRefused:
    """Why a sign-in failed; the same words for an unknown name and a wrong password."""

    message_ja: str
    message_en: str
    locked_until: datetime | None = None


BAD_CREDENTIALS = SignInRefused("ログイン名またはパスワードが違います。",
                                "Wrong sign-in name or password.")


def sign_in(store: Store, name: str, password: str, *, now: datetime,
            address: Optional[str] = None) -> ClerkView | SignInRefused:
    """Check a clerk's password from client ``address`` (None: not over a network). The try
    is counted first and the throttles of :mod:`openjpki.services.signin_throttle` decide
    whether it is checked at all; ``now`` is the real clock."""
    name = (name or "").strip()
    password = password or ""
    with store.transaction() as s:
        valid = bool(NAME_RE.match(name))
        c = clerk_by_name(s, name, for_update=True) if valid else None
        usable = c is not None and c.active
        counted = throttle.charge(s, name if valid else None, address, now,
                                  account=c is not None)
        if isinstance(counted, throttle.Held):
            record(s, "clerk.sign_in_failed", now, actor="counter-pages",
                   subject=f"clerk:{c.name}" if c is not None else None, why="throttled",
                   held_by=counted.key.split(":", 1)[0], address=address,
                   until=counted.until)
            return SignInRefused("パスワードを続けて間違えたため、しばらくログインできません。",
                                 "Too many wrong passwords: signing in is held for a while.",
                                 counted.until)
        stored = c.password_hash if usable and c is not None else None
    # The password is checked outside the transaction: the try is already counted.
    right = verify_password(password, stored or _dummy_hash()) and stored is not None
    with store.transaction() as s:
        if not right:
            # An unknown name is not logged: it may be a password typed in the wrong field.
            record(s, "clerk.sign_in_failed", now, actor="counter-pages",
                   subject=f"clerk:{c.name}" if c is not None else None,
                   why="unknown" if c is None else "password" if usable else "disabled",
                   locked=bool(counted.locked), address=address)
            return BAD_CREDENTIALS
        c = clerk_by_name(s, name, for_update=True)
        if c is None or not c.active or c.password_hash != stored:
            return BAD_CREDENTIALS  # changed while the password was checked
        throttle.signed_in(s, counted, now)
        c.failed_logins, c.locked_until, c.last_login_at, c.updated_at = 0, None, now, now
        record(s, "clerk.signed_in", now, actor=f"clerk:{c.name}", subject=f"clerk:{c.name}",
               address=address)
        return _view(c)


def sign_in_state(store: Store, now: datetime) -> dict[str, throttle.ThrottleState]:
    """Each account's throttle state (``clerk list``)."""
    with store.sessions() as s:
        return {c.name: throttle.state_of(s, c.name, now) for c in all_clerks(s)}


def current_clerk(store: Store, clerk_id: int, epoch: int) -> ClerkView | None:
    """The clerk of a session, if the account is active and the session not ended."""
    with store.sessions() as s:
        c = clerk_by_id(s, clerk_id)
        if c is None or not c.active or c.session_epoch != epoch:
            return None
        return _view(c)


def sign_out(store: Store, clerk_id: int, *, now: datetime) -> None:
    """End every session of the clerk (the epoch moves on)."""
    with store.transaction() as s:
        c = s.get(Clerk, clerk_id, with_for_update=True)
        if c is not None:
            c.session_epoch += 1
            c.updated_at = now
            record(s, "clerk.signed_out", now, actor=f"clerk:{c.name}",
                   subject=f"clerk:{c.name}")


def list_clerks(store: Store) -> list[ClerkView]:
    with store.sessions() as s:
        return [_view(c) for c in all_clerks(s)]


def update_clerk(store: Store, name: str, *, now: datetime, actor: str = "system",
                 role: str | None = None, active: bool | None = None,
                 password: str | None = None) -> ClerkView:
    """Change a clerk's role, activity or password; any change ends their sessions."""
    if role is not None:
        check_role(role)
    if password is not None:
        problem = password_problem(password)
        if problem:
            raise ClerkError("password", *problem)
    with store.transaction() as s:
        c = clerk_by_name(s, (name or "").strip(), for_update=True)
        if c is None:
            raise ClerkError("name", f"職員「{name}」はいません。", f"No clerk {name!r}.")
        changed: dict[str, Any] = {}
        if role is not None and role != c.role:
            changed["role"] = {"from": c.role, "to": role}
            c.role = role
        if active is not None and active != c.active:
            changed["active"] = {"from": c.active, "to": active}
            c.active = active
        if password is not None:
            c.password_hash = hash_password(password)
            c.failed_logins, c.locked_until = 0, None
            changed["password_changed"] = True
        if active or password is not None:
            # --enable (or a new password) also lifts the sign-in throttles of the account.
            cleared = throttle.clear(s, c.name)
            c.failed_logins, c.locked_until = 0, None  # the lock of stores made before
            if cleared:
                record(s, "clerk.sign_in_cleared", now, actor=actor,
                       subject=f"clerk:{c.name}", throttles=cleared)
        if changed:
            c.session_epoch += 1
            c.updated_at = now
            record(s, "clerk.updated", now, actor=actor, subject=f"clerk:{c.name}", **changed)
        return _view(c)


# --- what a role may do ------------------------------------------------------------------------

SUPERVISOR_ACTIONS = frozenset({"requeue_deferred", "switch_availability", "manage_clerks"})


def needs_supervisor(action: str, *, applicant_type: str | None = None) -> bool:
    """Is ``action`` kept for a supervisor? A revocation or hold asked for by anyone but the
    holder (R4.3: the holder's own request is the ordinary case), requeueing deferred work
    and switching the authorities' availability (R5.9), and managing accounts are. Every
    other action (``action`` is a procedure of R5.1 or any other word) is every clerk's."""
    if action in ("revocation", "hold"):
        return applicant_type not in (None, "holder")
    return action in SUPERVISOR_ACTIONS


def may(clerk: ClerkView, action: str, *, applicant_type: str | None = None) -> bool:
    return clerk.is_supervisor or not needs_supervisor(action, applicant_type=applicant_type)
