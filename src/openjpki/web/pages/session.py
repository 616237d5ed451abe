"""The pages' session: a small signed cookie, and CSRF tokens kept in it.

The session is a JSON object signed with HMAC (itsdangerous, salt ``openjpki-pages``) under
a 32-byte key kept in ``<home>/keys/pages-session.key`` (made on first use, mode 0600). It
carries no secret of the holder or the municipality: the CSRF token, the clerk's id with
their session epoch (checked against the store at every request, so sign-out, a password
change or a disabled account ends it at once), the holder's portal log-in (card and
certificate ids), a portal challenge, and references of printed documents.

The cookie is ``HttpOnly``, ``SameSite=Lax``, ``Path=/`` and ``Secure`` when the request came
over https; the signature expires after :data:`MAX_AGE` and a clerk must sign in again
after :data:`CLERK_MAX_AGE`. Session expiry uses the real clock (it protects the session,
it decides nothing about certificates), the injected clock is for the procedures.

CSRF (synchroniser token): every form carries the session's token in a hidden field
``csrf_token``; :func:`csrf_ok` compares it in constant time. A POST without it, or with
another, is refused with a 403 page by the routes.
"""

from __future__ import annotations

import hmac
import json
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any, Optional

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from openjpki import keyfile

COOKIE = "openjpki_session"
LANG_COOKIE = "openjpki_lang"
MAX_AGE = 12 * 3600
CLERK_MAX_AGE = 10 * 3600
HOLDER_MAX_AGE = 30 * 60
CSRF_FIELD = "csrf_token"
KEY_FILE = "pages-session.key"
log = logging.getLogger("openjpki.web.pages")


def load_or_create_key(keys_dir: Path) -> bytes:
    """The signing key of the home (made on first use, 0600); a random key for this process
    when the home cannot keep one (sessions then end with the process)."""
    path = Path(keys_dir) / KEY_FILE
    try:
        key = keyfile.load_or_create_key(path)
    except OSError as e:
        log.warning("cannot keep the session key in %s (%s): sessions end with this process",
                    path, e)
        return os.urandom(32)
    if len(key) != 32:
        log.warning("%s is not a 32-byte key: sessions use a key of this process", path)
        return os.urandom(32)
    return key


class Sessions:
    """Reads and writes the signed session cookie."""

    def __init__(self, key: bytes) -> None:
        self._serializer = URLSafeTimedSerializer(key, salt="openjpki-pages",
                                                  serializer=_CompactJson())

    def load(self, request: Request) -> "PageSession":
        raw = request.cookies.get(COOKIE)
        data: dict[str, Any] = {}
        if raw and len(raw) < 4096:
            try:
                loaded = self._serializer.loads(raw, max_age=MAX_AGE)
                if isinstance(loaded, dict):
                    data = loaded
            except (BadSignature, ValueError, TypeError):
                data = {}
        return PageSession(data, fresh=not data)

    def save(self, request: Request, response: Response, session: "PageSession") -> None:
        if not session.modified:
            return
        response.set_cookie(COOKIE, self._serializer.dumps(session.data), max_age=MAX_AGE,
                            path="/", httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")


class _CompactJson:
    @staticmethod
    def dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)

    @staticmethod
    def loads(text: str | bytes) -> Any:
        return json.loads(text)


class PageSession:
    """The decoded session; changes are written back by :meth:`Sessions.save`."""

    def __init__(self, data: dict[str, Any], *, fresh: bool = False) -> None:
        self.data = data
        self.modified = fresh

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.data[key] = value
        self.modified = True

    def pop(self, key: str) -> Any:
        if key in self.data:
            self.modified = True
            return self.data.pop(key)
        return None

    # --- CSRF -------------------------------------------------------------------------------
    @property
    def csrf_token(self) -> str:
        token = self.data.get("csrf")
        if not isinstance(token, str) or len(token) < 32:
            token = secrets.token_urlsafe(32)
            self.set("csrf", token)
        return token

    def rotate(self) -> None:
        """A new session identity (after signing in or out): a new CSRF token."""
        self.set("csrf", secrets.token_urlsafe(32))

    # --- the clerk ------------------------------------------------------------------------------
    def clerk_ref(self) -> Optional[tuple[int, int]]:
        ref = self.data.get("clerk")
        if not (isinstance(ref, list) and len(ref) == 3 and all(isinstance(x, int) for x in ref)):
            return None
        clerk_id, epoch, at = ref
        if time.time() - at > CLERK_MAX_AGE:
            return None
        return clerk_id, epoch

    def sign_in_clerk(self, clerk_id: int, epoch: int) -> None:
        self.rotate()
        self.set("clerk", [clerk_id, epoch, int(time.time())])

    def sign_out_clerk(self) -> None:
        self.pop("clerk")
        self.rotate()

    # --- the holder (portal) --------------------------------------------------------------------
    def holder(self) -> Optional[dict]:
        h = self.data.get("holder")
        if not isinstance(h, dict) or not isinstance(h.get("at"), int):
            return None
        if time.time() - h["at"] > HOLDER_MAX_AGE:
            return None
        return h

    def log_in_holder(self, *, card_id: int, resident_id: int, serial: str) -> None:
        self.rotate()
        self.set("holder", {"card": card_id, "resident": resident_id, "serial": serial,
                            "at": int(time.time())})

    def log_out_holder(self) -> None:
        self.pop("holder")
        self.rotate()


def csrf_ok(session: PageSession, submitted: Any) -> bool:
    """Does the submitted token equal the session's (constant time)?"""
    token = session.data.get("csrf")
    if not isinstance(token, str) or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(token.encode(), submitted.encode())
