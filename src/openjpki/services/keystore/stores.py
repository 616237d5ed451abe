"""Where the authorities' private keys live: encrypted files in the home (the default) or a
PKCS#11 token. The store names each key with a reference kept in the authority's row
(``authorities.key_file``): a file name inside ``<home>/keys`` or a PKCS#11 URI (RFC 7512,
``pkcs11:token=…;object=…;id=…``). Neither kind of reference is a secret.

The token's PIN is read from ``$OPENJPKI_PKCS11_PIN``, else from the file
``<home>/keys/pkcs11-pin`` (mode 0600, made by the operator when the service must start
unattended); ``--pin-stdin`` on the commands that open the token puts it in the variable for
the process. It is never a command-line argument and never written to the store.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional
from urllib.parse import quote, unquote, unquote_to_bytes

from openjpki.pki import Signer
from openjpki.pki.signer_pkcs11 import Pkcs11Signer, TokenError, open_token
from openjpki.services.authority_setup import (
    SetupError, create_or_load_key, key_file_name, load_key,
)

PIN_ENV = "OPENJPKI_PKCS11_PIN"
PIN_FILE = "pkcs11-pin"
URI_SCHEME = "pkcs11:"


class KeyStoreKind(str, enum.Enum):
    FILE = "file"
    PKCS11 = "pkcs11"


def is_token_ref(key_ref: str) -> bool:
    return key_ref.startswith(URI_SCHEME)


def token_ref(label: str, object_label: str, key_id: str) -> str:
    """The RFC 7512 URI of a key pair: token label, object label and CKA_ID (hex in, %XX out)."""
    raw = bytes.fromhex(key_id)
    pct = "".join(f"%{b:02x}" for b in raw)
    return f"{URI_SCHEME}token={quote(label, safe='')};object={quote(object_label, safe='')};id={pct}"


def parse_token_ref(key_ref: str) -> tuple[str, str]:
    """(token label, CKA_ID hex) of a URI made by :func:`token_ref`. SetupError otherwise."""
    if not is_token_ref(key_ref):
        raise SetupError(f"not a PKCS#11 key reference: {key_ref!r}")
    parts = dict(p.split("=", 1) for p in key_ref[len(URI_SCHEME):].split(";") if "=" in p)
    if "token" not in parts or "id" not in parts:
        raise SetupError(f"the PKCS#11 key reference {key_ref!r} lacks token or id")
    return unquote(parts["token"]), unquote_to_bytes(parts["id"]).hex()


def token_pin(keys_dir: Path) -> Optional[str]:
    """The token PIN ($OPENJPKI_PKCS11_PIN, else <home>/keys/pkcs11-pin), or None."""
    env = os.environ.get(PIN_ENV)
    if env:
        return env
    path = keys_dir / PIN_FILE
    if path.exists():
        value = path.read_text(encoding="utf-8").strip()
        return value or None
    return None


class FileKeys:
    """Keys in encrypted PKCS#8 files under ``keys_dir`` (FileSigner)."""

    kind = KeyStoreKind.FILE

    def __init__(self, keys_dir: Path, passphrase: bytes | Callable[[], bytes]) -> None:
        self.keys_dir = Path(keys_dir)
        self._passphrase = passphrase

    def passphrase(self) -> bytes:
        return self._passphrase() if callable(self._passphrase) else self._passphrase

    def create(self, kind: str, generation: int) -> tuple[str, Signer]:
        name = key_file_name(kind, generation)
        return name, create_or_load_key(self.keys_dir / name, self.passphrase())

    def open(self, key_ref: str) -> Signer:
        path = self.keys_dir / key_ref
        if not path.exists():
            raise SetupError(f"the key file is missing: {path}")
        try:
            return load_key(path, self.passphrase())
        except ValueError as e:
            raise SetupError(str(e)) from None

    def describe(self) -> str:
        return f"files in {self.keys_dir}"


@dataclass(frozen=True)
class TokenKeys:
    """Keys in a PKCS#11 token: ``module`` (the library), ``token`` (the label new keys go
    to), and where the PIN comes from."""

    module: str
    token: str
    keys_dir: Path
    kind = KeyStoreKind.PKCS11

    def _open(self, label: str):
        if not Path(self.module).exists():
            raise SetupError(f"the PKCS#11 module {self.module} does not exist")
        pin = token_pin(self.keys_dir)
        if pin is None:
            raise SetupError(f"no PIN for the PKCS#11 token {label!r}: set ${PIN_ENV} "
                             f"or use --pin-stdin")
        try:
            return open_token(self.module, label, pin)
        except TokenError as e:
            raise SetupError(str(e)) from None

    def create(self, kind: str, generation: int) -> tuple[str, Signer]:
        token = self._open(self.token)
        name = f"{kind}-{generation}"
        try:
            signer = token.generate(name)
        except TokenError as e:
            raise SetupError(str(e)) from None
        return token_ref(self.token, "openjpki-" + name, signer.token_key_id), signer

    def open(self, key_ref: str) -> Pkcs11Signer:
        label, key_id = parse_token_ref(key_ref)
        try:
            return self._open(label).signer(key_id)
        except TokenError as e:
            raise SetupError(str(e)) from None

    def ping(self, key_ref: Optional[str] = None) -> None:
        """SetupError unless the token (of ``key_ref``, else the configured one) answers."""
        label = parse_token_ref(key_ref)[0] if key_ref else self.token
        try:
            self._open(label).ping()
        except TokenError as e:
            raise SetupError(str(e)) from None

    def describe(self) -> str:
        return f"PKCS#11 token {self.token!r} ({self.module})"


class HomeKeys:
    """The key store of a home: new keys go to ``new`` (files or the token); an existing key
    is opened where its reference says, so generations made before a change of store keep
    working."""

    def __init__(self, files: FileKeys, token: Optional[TokenKeys] = None,
                 new: KeyStoreKind = KeyStoreKind.FILE) -> None:
        if new is KeyStoreKind.PKCS11 and token is None:
            raise SetupError("key_store = pkcs11 needs pkcs11_module and pkcs11_token")
        self.files = files
        self.token = token
        self.new = new

    def create(self, kind: str, generation: int) -> tuple[str, Signer]:
        store = self.token if self.new is KeyStoreKind.PKCS11 else self.files
        return store.create(kind, generation)  # type: ignore[union-attr]

    def open(self, key_ref: str) -> Signer:
        if is_token_ref(key_ref):
            if self.token is None:
                raise SetupError("a key is in a PKCS#11 token but [pki] names no pkcs11_module")
            return self.token.open(key_ref)
        return self.files.open(key_ref)

    def ping(self, key_ref: str) -> None:
        """SetupError unless the store holding ``key_ref`` answers now (a token is asked;
        a key file must exist)."""
        if is_token_ref(key_ref):
            if self.token is None:
                raise SetupError("a key is in a PKCS#11 token but [pki] names no pkcs11_module")
            self.token.ping(key_ref)
        elif not (self.files.keys_dir / key_ref).exists():
            raise SetupError(f"the key file is missing: {self.files.keys_dir / key_ref}")

    def describe(self) -> str:
        store = self.token if self.new is KeyStoreKind.PKCS11 else self.files
        return store.describe()  # type: ignore[union-attr]
