"""The counter's secrets at rest: each card's issuing secret.

- Issuing secrets (CARD.md "Issuance": only the issuer knows them) are stored in the
  ``cards`` table encrypted with AES-256-GCM under the counter key, bound to the card's id as
  associated data (a row's ciphertext cannot be moved to another card). The key is the file
  ``<home>/keys/counter.key`` (32 random bytes, mode 0600, made on first use), or
  ``$OPENJPKI_COUNTER_KEY`` (64 hex digits) when set.
- The resident-registry PIN 住民基本台帳用暗証番号 (R1.6) is not kept here at all: it
  lives in the card's 住基AP, which counts its tries, and the counter asks the card
  (:mod:`.cardpin`). No hash of a 4-digit PIN, which an offline search would undo, is in
  the database.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from openjpki.keyfile import load_or_create_key

COUNTER_KEY_ENV = "OPENJPKI_COUNTER_KEY"
COUNTER_KEY_FILE = "counter.key"
_NONCE = 12


class SecretBoxError(Exception):
    """The counter key is missing or unusable, or a ciphertext does not open."""


class SecretBox:
    """AES-GCM with the counter key. ``repr`` never shows the key."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretBoxError("the counter key must be 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "SecretBox(…)"

    @classmethod
    def from_keys_dir(cls, keys_dir: Path) -> "SecretBox":
        env = os.environ.get(COUNTER_KEY_ENV)
        if env:
            try:
                return cls(bytes.fromhex(env.strip()))
            except ValueError:
                raise SecretBoxError(f"${COUNTER_KEY_ENV} must be 64 hex digits") from None
        path = keys_dir / COUNTER_KEY_FILE
        key = load_or_create_key(path)
        if len(key) != 32:
            raise SecretBoxError(f"{path} is not a 32-byte key")
        return cls(key)

    def seal(self, secret: bytes, context: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, secret, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], context.encode())
        except Exception:  # noqa: BLE001 — InvalidTag and malformed input alike
            raise SecretBoxError(f"the issuing secret of {context} does not open with this "
                                 "counter key") from None
