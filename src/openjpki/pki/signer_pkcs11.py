"""Authority keys inside a PKCS#11 token (an HSM, or SoftHSM2 in tests), through python-pkcs11.

:class:`Pkcs11Signer` implements the same :class:`~openjpki.pki.signer.Signer` and
:class:`~openjpki.pki.signer.DigestSigner` as the key-file signer, so certificates, CRLs and
OCSP responses are signed the same way whichever store holds the key. The private key is made
inside the token (CKA_SENSITIVE true, CKA_EXTRACTABLE false, CKA_TOKEN true) and never leaves
it; only its public half is read back.

One :class:`Pkcs11Token` per (module, token label) and process: it logs in once (PKCS#11
login is per application, not per session) and keeps a small pool of sessions so that
several threads sign at once, each in its own session as PKCS#11 requires.
"""

from __future__ import annotations

import queue
import secrets
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11e

from .signer import RSA_BITS, RSA_EXPONENT, check_rsa_public_key

# DER of DigestInfo { sha256, NULL } before the 32 digest octets (RFC 8017 §9.2 note 1): what
# CKM_RSA_PKCS signs when the caller hashed the data itself (a streamed CRL).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
KEY_LABEL_PREFIX = "openjpki-"


class TokenError(Exception):
    """The token cannot be used (module, token label, PIN, key): one line, safe to show."""


def _describe(e: BaseException) -> str:
    if isinstance(e, p11e.PinIncorrect):
        return "the token PIN is wrong"
    if isinstance(e, p11e.PinLocked):
        return "the token PIN is locked"
    if isinstance(e, p11e.NoSuchToken):
        return "no such token"
    if isinstance(e, p11e.NoSuchKey):
        return "the key is not in the token"
    return type(e).__name__


_libs: dict[str, "pkcs11.lib"] = {}
_tokens: dict[tuple[str, str], "Pkcs11Token"] = {}
_registry_lock = threading.Lock()


def _load_lib(module: str):
    lib = _libs.get(module)
    if lib is None:
        try:
            lib = pkcs11.lib(module)
        except (p11e.PKCS11Error, OSError) as e:
            raise TokenError(f"cannot load the PKCS#11 module {module}: {str(e) or type(e).__name__}") from None
        _libs[module] = lib
    return lib


class Pkcs11Token:
    """A logged-in token; use :func:`open_token` (one per module, label and process)."""

    def __init__(self, module: str, label: str, pin: str) -> None:
        self.module = module
        self.label = label
        self._lock = threading.Lock()
        self._pool: "queue.SimpleQueue[tuple[object, dict]]" = queue.SimpleQueue()
        self._pin = pin  # kept to log in again when the token was reset (see _sign)
        lib = _load_lib(module)
        token = self._find(lib, label)
        self._login = self._log_in(token)
        self._token = token

    def _log_in(self, token):
        # The login session stays open for the life of the process: closing it would log
        # every other session out.
        try:
            return token.open(rw=True, user_pin=self._pin)
        except p11e.UserAlreadyLoggedIn:  # the application is logged in still: a plain session
            return token.open(rw=True)
        except p11e.PKCS11Error as e:
            raise TokenError(f"token {self.label!r}: {_describe(e)}") from None

    def _log_in_again(self) -> None:
        """After the token dropped our sessions (an HSM restarted, a network HSM reconnected):
        forget every pooled session and log in anew."""
        with self._lock:
            while True:
                try:
                    self._pool.get_nowait()
                except queue.Empty:
                    break
            self._login = self._log_in(self._token)

    @staticmethod
    def _find(lib, label: str):
        try:
            return lib.get_token(token_label=label)
        except p11e.NoSuchToken:
            if _tokens:  # sessions of other tokens are open: do not reset the library
                raise TokenError(f"no PKCS#11 token labelled {label!r}") from None
            lib.reinitialize()  # a token made after the library was loaded (C_Initialize)
        try:
            return lib.get_token(token_label=label)
        except p11e.NoSuchToken:
            raise TokenError(f"no PKCS#11 token labelled {label!r}") from None
        except p11e.MultipleTokensReturned:
            raise TokenError(f"several PKCS#11 tokens are labelled {label!r}") from None

    @contextmanager
    def session(self) -> Iterator[tuple[object, dict]]:
        """A session of this token (from the pool, or a new one) and its key-handle cache."""
        try:
            item = self._pool.get_nowait()
        except queue.Empty:
            try:
                item = (self._token.open(rw=True), {})
            except p11e.PKCS11Error as e:
                raise TokenError(f"token {self.label!r}: {_describe(e)}") from None
        try:
            yield item
        except p11e.PKCS11Error as e:  # the session may be unusable now: not put back
            raise TokenError(f"token {self.label!r}: {_describe(e)}") from None
        except BaseException:
            self._pool.put(item)
            raise
        self._pool.put(item)

    def generate(self, name: str) -> "Pkcs11Signer":
        """A new RSA-2048 (e = 65537) key pair made inside the token, labelled
        ``openjpki-<name>``, with a random CKA_ID; sensitive and never extractable."""
        key_id = secrets.token_bytes(16)
        label = KEY_LABEL_PREFIX + name
        with self.session() as (s, _):
            s.generate_keypair(  # type: ignore[attr-defined]
                KeyType.RSA, RSA_BITS, id=key_id, label=label, store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,  # signing only
                public_template={Attribute.PUBLIC_EXPONENT: RSA_EXPONENT.to_bytes(3, "big"),
                                 Attribute.TOKEN: True},
                private_template={Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
                                  Attribute.TOKEN: True, Attribute.PRIVATE: True})
        return self.signer(key_id.hex())

    def signer(self, key_id: str) -> "Pkcs11Signer":
        """The signer of the key pair with CKA_ID ``key_id`` (hex). TokenError when absent."""
        raw = bytes.fromhex(key_id)
        with self.session() as (s, _):
            try:
                pub = s.get_key(object_class=ObjectClass.PUBLIC_KEY, id=raw)  # type: ignore[attr-defined]
                s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=raw)  # type: ignore[attr-defined]
            except (p11e.NoSuchKey, p11e.MultipleObjectsReturned):
                raise TokenError(f"token {self.label!r} holds no key pair with id {key_id}") from None
            n = int.from_bytes(pub[Attribute.MODULUS], "big")
            e = int.from_bytes(pub[Attribute.PUBLIC_EXPONENT], "big")
        public = check_rsa_public_key(rsa.RSAPublicNumbers(e, n).public_key(), "token key")
        return Pkcs11Signer(self, raw, public)

    def ping(self) -> None:
        """TokenError unless the token answers (its info is read through a session); a token
        that dropped our sessions is logged in again first, so a recovered HSM is healthy."""
        try:
            self._ping_once()
        except TokenError:
            self._log_in_again()
            self._ping_once()

    def _ping_once(self) -> None:
        with self.session() as (s, _):
            s.token.label  # type: ignore[attr-defined]  # noqa: B018 — a C_GetTokenInfo round trip

    def _sign(self, key_id: bytes, data: bytes, mechanism: Mechanism) -> bytes:
        try:
            return self._sign_once(key_id, data, mechanism)
        except TokenError:
            self._log_in_again()  # once: a token that still refuses gives its error
            return self._sign_once(key_id, data, mechanism)

    def _sign_once(self, key_id: bytes, data: bytes, mechanism: Mechanism) -> bytes:
        with self.session() as (s, keys):
            key = keys.get(key_id)
            if key is None:
                key = s.get_key(object_class=ObjectClass.PRIVATE_KEY, id=key_id)  # type: ignore[attr-defined]
                keys[key_id] = key
            return bytes(key.sign(data, mechanism=mechanism))

    def __repr__(self) -> str:
        return f"Pkcs11Token(module={self.module!r}, label={self.label!r})"

    def __reduce__(self):
        raise TypeError("a PKCS#11 token session cannot be pickled")


def open_token(module: str, label: str, pin: Optional[str]) -> Pkcs11Token:
    """The logged-in token of this process for (module, label), opened on first use."""
    key = (module, label)
    with _registry_lock:
        token = _tokens.get(key)
        if token is None:
            if not pin:
                raise TokenError(f"no PIN for the PKCS#11 token {label!r}")
            token = Pkcs11Token(module, label, pin)
            _tokens[key] = token
    return token


class Pkcs11Signer:
    """An authority key inside a token: sha256WithRSAEncryption computed by the token."""

    __slots__ = ("token", "_id", "_public")

    def __init__(self, token: Pkcs11Token, key_id: bytes, public: rsa.RSAPublicKey) -> None:
        self.token = token
        self._id = key_id
        self._public = public

    @property
    def token_key_id(self) -> str:
        """CKA_ID of the key pair in the token, hex."""
        return self._id.hex()

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self.token._sign(self._id, data, Mechanism.SHA256_RSA_PKCS)

    def sign_digest(self, digest: bytes) -> bytes:
        if len(digest) != 32:
            raise ValueError("a SHA-256 digest has 32 octets")
        return self.token._sign(self._id, _SHA256_DIGEST_INFO + digest, Mechanism.RSA_PKCS)

    def key_id(self) -> str:
        """The subjectKeyIdentifier (SHA-1 of the public key), hex: safe to show."""
        return x509.SubjectKeyIdentifier.from_public_key(self._public).digest.hex()

    def __repr__(self) -> str:
        return f"Pkcs11Signer(token={self.token.label!r}, id={self._id.hex()})"

    def __reduce__(self):
        raise TypeError("Pkcs11Signer cannot be pickled")
