"""The certificate of a platform request: a compact JWE to one of the platform's keys, or a
bare PEM, whose PEM may be written in any of the ways the callers write it.

JOSE library: joserfc. Of the three maintained ones (joserfc, jwcrypto, authlib) it is the
one made for exactly RFC 7516/7518 (no OAuth framework around it, as authlib has), built on
``cryptography`` (already ours), typed, and it refuses what is not asked for: the registry
below admits RSA-OAEP-256 with A128CBC-HS256 or A256GCM and DEF only, so a token with
``alg: none``, RSA1_5 or a symmetric key is refused before any key is touched; and it bounds
the inflated size of ``zip: DEF`` content (250 KiB), so a compressed bomb cannot exhaust
memory. jwcrypto would do the JWE as well, but allows more by default.

The PEM inside (or sent bare) may carry its line breaks as newlines, as CRLF, as the two
characters backslash and ``n`` (what one mobile app sends, and the contract's own example),
or have no breaks at all; the markers may have more or fewer dashes than five. The base64
between the markers is what counts, and it must be one DER certificate.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Optional

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwe import JWERegistry

from openjpki.services.platform.answers import PlatformError
from openjpki.services.platform.keys import KeySet
from openjpki.services.platform.requests import bad

ALGORITHMS = ["RSA-OAEP-256", "A128CBC-HS256", "A256GCM", "DEF"]
REGISTRY = JWERegistry(algorithms=ALGORITHMS)
_PEM = re.compile(r"-{2,}\s*BEGIN CERTIFICATE\s*-{2,}(.*?)-{2,}\s*END CERTIFICATE\s*-{2,}", re.S)
_JWE = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){4}$")
_ESCAPES = ("\\r\\n", "\\n", "\\r")


def _pem_der(text: str) -> bytes:
    for escape in _ESCAPES:
        text = text.replace(escape, "\n")
    found = _PEM.search(text)
    if found is None:
        raise bad("the certificate is neither a JWE nor a PEM certificate")
    body = "".join(found.group(1).split())
    try:
        der = base64.b64decode(body, validate=True)
        x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError):
        raise bad("the PEM does not hold an X.509 certificate") from None
    return der


def _kid(token: str) -> Optional[str]:
    """The ``kid`` of the protected header, to pick the key (joserfc checks the whole header
    again when it decrypts)."""
    head = token.split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError):
        raise bad("the JWE's header does not parse") from None
    if not isinstance(header, dict):
        raise bad("the JWE's header is not an object")
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def _decrypt(token: str, keys: KeySet) -> str:
    kid = _kid(token)
    named = keys.by_kid(kid) if kid else None
    if kid and named is None:
        raise bad("the JWE is encrypted to a key this platform does not hold (kid)")
    for key in (named,) if named is not None else keys.keys:
        try:
            plaintext = jwe.decrypt_compact(token, key, registry=REGISTRY).plaintext
        except (JoseError, ValueError, TypeError):
            continue
        try:
            return plaintext.decode("utf-8")
        except (UnicodeDecodeError, AttributeError):
            raise bad("the JWE's content is not text") from None
    raise bad("the JWE cannot be decrypted with this platform's keys (another key, or damaged)")


def read_certificate(text: str, keys: Optional[KeySet]) -> bytes:
    """The DER certificate of the request's certificate field; PlatformError(400) otherwise."""
    compact = text.strip()
    if "BEGIN CERTIFICATE" in compact:
        return _pem_der(compact)
    if _JWE.match(compact):
        if keys is None:
            raise PlatformError(503, "システム利用不可: the platform's keys are not available")
        return _pem_der(_decrypt(compact, keys))
    raise bad("the certificate is neither a compact JWE (five parts) nor a PEM certificate")


def encrypt_certificate(pem_or_der: bytes, jwk: dict, *, enc: str = "A128CBC-HS256", one_line: str = "\n") -> str:
    """What a caller sends: the certificate as PEM with its base64 on one line (the lines
    joined by ``one_line``), deflated and encrypted to ``jwk`` (tests, the sample script)."""
    from joserfc.jwk import RSAKey

    cert = (x509.load_pem_x509_certificate(pem_or_der) if pem_or_der.lstrip().startswith(b"-----")
            else x509.load_der_x509_certificate(pem_or_der))
    body = base64.b64encode(cert.public_bytes(Encoding.DER)).decode()
    pem = one_line.join(["-----BEGIN CERTIFICATE-----", body, "-----END CERTIFICATE-----"])
    key = RSAKey.import_key(jwk)
    header = {"alg": "RSA-OAEP-256", "enc": enc, "zip": "DEF"}
    if jwk.get("kid"):
        header["kid"] = jwk["kid"]
    return jwe.encrypt_compact(header, pem.encode(), key, registry=REGISTRY)


__all__ = ["ALGORITHMS", "encrypt_certificate", "read_certificate"]
