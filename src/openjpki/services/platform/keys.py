"""The platform's encryption keys: the RSA keys whose public halves ``GET /key/jwks.json``
lists and to which callers encrypt the certificate (JWE, RSA-OAEP-256).

Kept beside the CA keys, in ``<home>/keys/platform/`` (folder 0700): one PKCS#8 PEM file per
key (``jwe-<kid>.pem``, mode 0600, written exclusively and fsync'd) and ``keys.json`` naming
the current key, the previous one and until when the previous one is still honoured. The
key files are not encrypted: the server must decrypt without anyone typing a passphrase, and
the folder is the owner's alone; nothing of them goes to the database.

A home initialised before the platform existed gets its key on first use.

Rotation (``openjpki platform key rotate``) makes a new current key; the old current becomes
the previous one, listed second in the JWKS and accepted for decryption for ``grace`` (a
caller that fetched the set just before may still encrypt to it), then dropped. The
manifest is replaced atomically (rename), so a server reads the old or the new set, never a
half-written one, and notices a rotation by the file's change time.

``kid`` is the key's RFC 7638 thumbprint.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Iterator, Optional

from joserfc.jwk import RSAKey

FOLDER = "platform"
MANIFEST = "keys.json"
KEY_BITS = 2048
DEFAULT_GRACE = timedelta(days=1)
JWE_ALG = "RSA-OAEP-256"


class PlatformKeyError(Exception):
    """The platform's key files are missing or unreadable (one line)."""


@dataclass(frozen=True)
class KeySet:
    """The keys in force at one moment: current first, then the previous one (if honoured)."""

    keys: tuple[RSAKey, ...]

    @property
    def current(self) -> RSAKey:
        return self.keys[0]

    def by_kid(self, kid: Optional[str]) -> Optional[RSAKey]:
        return next((k for k in self.keys if k.kid == kid), None)

    def jwks(self) -> dict:
        return {"keys": [public_jwk(k) for k in self.keys]}


def public_jwk(key: RSAKey) -> dict:
    return {"kty": "RSA", "kid": key.kid, "use": "enc", "alg": JWE_ALG,
            **{k: v for k, v in key.as_dict(private=False).items() if k in ("n", "e")}}


def folder(keys_dir: Path) -> Path:
    return Path(keys_dir) / FOLDER


@contextmanager
def _locked(keys_dir: Path) -> Iterator[Path]:
    where = folder(keys_dir)
    where.mkdir(parents=True, exist_ok=True)
    os.chmod(where, 0o700)
    with open(where / ".lock", "a+b") as fh:
        os.chmod(where / ".lock", 0o600)
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield where
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_exclusive(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_key(where: Path) -> str:
    key = RSAKey.generate_key(KEY_BITS, private=True)
    kid = key.thumbprint()
    _write_exclusive(where / f"jwe-{kid}.pem", key.as_pem(private=True))
    return kid


def _read_manifest(where: Path) -> Optional[dict]:
    try:
        return json.loads((where / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise PlatformKeyError(f"{where / MANIFEST} is unreadable: {e}") from None


def _write_manifest(where: Path, manifest: dict) -> None:
    tmp = where / f".{MANIFEST}.{os.getpid()}"
    tmp.unlink(missing_ok=True)
    _write_exclusive(tmp, json.dumps(manifest, indent=2).encode())
    os.replace(tmp, where / MANIFEST)


def ensure_key(keys_dir: Path, now: datetime) -> str:
    """The current key's kid, made first when there is none (``init``); safe to race."""
    with _locked(keys_dir) as where:
        manifest = _read_manifest(where)
        if manifest is not None:
            return manifest["current"]
        kid = _new_key(where)
        _write_manifest(where, {"current": kid, "previous": None, "previous_until": None,
                                "rotated_at": now.isoformat()})
        return kid


def rotate(keys_dir: Path, now: datetime, *, grace: timedelta = DEFAULT_GRACE) -> dict:
    """A new current key; the old current honoured for ``grace`` more; the one before removed."""
    ensure_key(keys_dir, now)
    with _locked(keys_dir) as where:
        old = _read_manifest(where) or {}
        kid = _new_key(where)
        manifest = {"current": kid, "previous": old.get("current"),
                    "previous_until": (now + grace).isoformat(), "rotated_at": now.isoformat()}
        _write_manifest(where, manifest)
        keep = {kid, old.get("current")}
        for path in where.glob("jwe-*.pem"):
            if path.name[4:-4] not in keep:
                path.unlink()
        return manifest


def describe(keys_dir: Path, now: datetime) -> dict:
    """The manifest and whether the previous key is still honoured (``openjpki platform key list``)."""
    manifest = _read_manifest(folder(keys_dir))
    if manifest is None:
        raise PlatformKeyError(f"no platform key in {folder(keys_dir)}: run `openjpki init`")
    return {**manifest, "previous_honoured": _previous_honoured(manifest, now)}


def _previous_honoured(manifest: dict, now: datetime) -> bool:
    until = manifest.get("previous_until")
    return bool(manifest.get("previous")) and until is not None and now < datetime.fromisoformat(until)


def _load(where: Path, kid: str) -> RSAKey:
    try:
        return RSAKey.import_key((where / f"jwe-{kid}.pem").read_bytes(), parameters={"kid": kid})
    except (OSError, ValueError) as e:
        raise PlatformKeyError(f"the platform key {kid} is unreadable: {e}") from None


class KeyStore:
    """The key set of a home as a server uses it: read once, read again when the manifest
    changes (a rotation by the CLI in another process) or the previous key's grace ends."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = Path(keys_dir)
        self.where = folder(keys_dir)
        self._stamp: Optional[tuple] = None
        self._loaded: dict[str, RSAKey] = {}
        self._manifest: dict = {}

    def keys(self, now: datetime) -> KeySet:
        try:
            st = (self.where / MANIFEST).stat()
        except FileNotFoundError:
            if not self.keys_dir.is_dir():
                raise PlatformKeyError(f"no platform key in {self.where}: run `openjpki init`") from None
            ensure_key(self.keys_dir, now)  # a home initialised before the platform existed
            st = (self.where / MANIFEST).stat()
        stamp = (st.st_mtime_ns, st.st_ino, st.st_size)
        if stamp != self._stamp:
            manifest = _read_manifest(self.where) or {}
            kids = [k for k in (manifest.get("current"), manifest.get("previous")) if k]
            self._loaded = {kid: self._loaded.get(kid) or _load(self.where, kid) for kid in kids}
            self._manifest, self._stamp = manifest, stamp
        current = self._loaded[self._manifest["current"]]
        if _previous_honoured(self._manifest, now):
            return KeySet((current, self._loaded[self._manifest["previous"]]))
        return KeySet((current,))


__all__ = ["DEFAULT_GRACE", "JWE_ALG", "PlatformKeyError", "KeySet", "KeyStore", "describe", "ensure_key", "folder",
           "public_jwk", "rotate"]
