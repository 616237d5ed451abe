"""The one signing interface of the authorities, and a key-file implementation.

Certificates, CRLs and OCSP responses are all signed through :class:`Signer`:
sha256WithRSAEncryption, PKCS#1 v1.5.  A PKCS#11 HSM can implement the same two methods.
CA keys never appear in a repr, a log line or an API answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils

RSA_BITS = 2048
RSA_EXPONENT = 65537
_PKCS1 = padding.PKCS1v15()
_SHA256 = hashes.SHA256()
_PREHASHED_SHA256 = utils.Prehashed(hashes.SHA256())


@runtime_checkable
class Signer(Protocol):
    """An authority's signing key, seen from the outside."""

    def public_key(self) -> rsa.RSAPublicKey:
        """The RSA public key that verifies this signer's signatures."""
        ...

    def sign(self, data: bytes) -> bytes:
        """Sign ``data`` with sha256WithRSAEncryption (RSASSA-PKCS1-v1_5 over SHA-256)."""
        ...


@runtime_checkable
class DigestSigner(Signer, Protocol):
    """A signer that also signs a SHA-256 digest computed by the caller.

    What streaming needs: a CRL of millions of entries is hashed while it is written to a
    file (:func:`openjpki.pki.crl.write_crl`) and only its digest is signed, so the list is
    never held in memory.  ``sign_digest(sha256(data)) == sign(data)``.  KeySigner and
    FileSigner have it; a signer without it still works, at the cost of memory.
    """

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a 32-octet SHA-256 digest (RSASSA-PKCS1-v1_5, DigestInfo SHA-256)."""
        ...


def check_rsa_public_key(key: object, what: str = "key") -> rsa.RSAPublicKey:
    """The profiles' key rule: RSA-2048 with e = 65537 (PROFILES.md).  ValueError otherwise."""
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{what} must be an RSA public key")
    numbers = key.public_numbers()
    if key.key_size != RSA_BITS or numbers.e != RSA_EXPONENT:
        raise ValueError(f"{what} must be RSA-{RSA_BITS} with e={RSA_EXPONENT}")
    return key


class KeySigner:
    """A signer over an in-memory private key (tests, and the base of :class:`FileSigner`)."""

    __slots__ = ("_key", "_public")

    def __init__(self, private_key: rsa.RSAPrivateKey) -> None:
        if not isinstance(private_key, rsa.RSAPrivateKey):
            raise ValueError("an RSA private key is required")
        self._key = private_key
        self._public = check_rsa_public_key(private_key.public_key(), "CA key")

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, _PKCS1, _SHA256)

    def sign_digest(self, digest: bytes) -> bytes:
        if len(digest) != 32:
            raise ValueError("a SHA-256 digest has 32 octets")
        return self._key.sign(digest, _PKCS1, _PREHASHED_SHA256)

    def key_id(self) -> str:
        """The subjectKeyIdentifier (SHA-1 of the public key), hex: safe to show."""
        return x509.SubjectKeyIdentifier.from_public_key(self._public).digest.hex()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(key_id={self.key_id()})"

    def __reduce__(self):  # never pickle a CA key by accident
        raise TypeError(f"{type(self).__name__} cannot be pickled")


class FileSigner(KeySigner):
    """An authority key kept in an encrypted PKCS#8 PEM file (mode 0600)."""

    __slots__ = ("path",)

    def __init__(self, private_key: rsa.RSAPrivateKey, path: Path) -> None:
        super().__init__(private_key)
        self.path = Path(path)

    @classmethod
    def generate(cls, path: str | os.PathLike, passphrase: bytes) -> "FileSigner":
        """Make a new RSA-2048 (e=65537) key and write it encrypted to ``path``.

        Refuses to overwrite an existing file (FileExistsError): a CA key is never replaced
        silently.  The file is created with mode 0600.
        """
        _check_passphrase(passphrase)
        path = Path(path)
        key = rsa.generate_private_key(public_exponent=RSA_EXPONENT, key_size=RSA_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, pem)
        finally:
            os.close(fd)
        return cls(key, path)

    @classmethod
    def load(cls, path: str | os.PathLike, passphrase: bytes) -> "FileSigner":
        """Read a key written by :meth:`generate`.  ValueError on a wrong passphrase."""
        _check_passphrase(passphrase)
        path = Path(path)
        data = path.read_bytes()
        try:
            key = serialization.load_pem_private_key(data, password=passphrase)
        except (ValueError, TypeError):
            raise ValueError(f"cannot decrypt the CA key in {path} (wrong passphrase or not a key)") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA key")
        return cls(key, path)

    def __repr__(self) -> str:
        return f"FileSigner(path={str(self.path)!r}, key_id={self.key_id()})"


def _check_passphrase(passphrase: bytes) -> None:
    if not isinstance(passphrase, (bytes, bytearray)) or not passphrase:
        raise ValueError("a non-empty passphrase (bytes) is required for a CA key file")
