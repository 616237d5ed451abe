"""The request bodies of the platform API, read strictly enough that nothing unchecked
reaches the verification, and every fault is a 400 in the contract's shape.

| call | certificate field | nonce field | signature field |
|---|---|---|---|
| registration, replacement | ``encryptedCertificateForSign`` | ``applicantData`` | ``sign`` |
| login | ``encryptedCertificateForUser`` | ``nonceData`` | ``nonceSign`` |

and ``requestInfo`` (``transactionId``, ``recipient`` = ``JPKI``, ``sender``, ``ts``) on all
three. Other members are ignored. The nonce is the caller's: its exact UTF-8 bytes are what
the card signed, so it is kept as sent (no trimming, no normalisation).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from openjpki.services.platform.answers import PLATFORM_ID, Call, PlatformError, RequestInfo

MAX_BODY = 256 * 1024          # bytes of a request body
MAX_NONCE = 1024               # bytes of a nonce (a UUID or a hex digest in practice)
MAX_SIGNATURE = 1024           # bytes of a decoded signature (RSA-2048: 256)
MAX_CERTIFICATE = 64 * 1024    # characters of the certificate field (JWE or PEM)
MAX_ID = 128                   # characters of transactionId, sender, ts

FIELDS = {
    Call.REGISTRATION: ("encryptedCertificateForSign", "applicantData", "sign"),
    Call.REPLACEMENT: ("encryptedCertificateForSign", "applicantData", "sign"),
    Call.LOGIN: ("encryptedCertificateForUser", "nonceData", "nonceSign"),
}


@dataclass(frozen=True)
class PlatformRequest:
    call: Call
    info: RequestInfo
    ts: str
    certificate: str
    nonce: bytes
    signature: bytes


def bad(message: str) -> PlatformError:
    return PlatformError(400, f"リクエスト失敗: {message}", outcome="bad-request")


def request_info_of(body: Any) -> RequestInfo:
    """The transaction id and sender to echo, read leniently (even from a refused body)."""
    info = body.get("requestInfo") if isinstance(body, dict) else None
    if not isinstance(info, dict):
        return RequestInfo()

    def text(name: str) -> str:
        value = info.get(name)
        return value if isinstance(value, str) and len(value) <= MAX_ID and value.isprintable() else ""
    return RequestInfo(text("transactionId"), text("sender"))


def decode_body(raw: bytes) -> Any:
    if len(raw) > MAX_BODY:
        raise bad(f"the body is larger than {MAX_BODY} bytes")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise bad("the body is not JSON") from None


def _text(container: dict, name: str, limit: int) -> str:
    value = container.get(name)
    if value is None:
        raise bad(f"{name} is missing")
    if not isinstance(value, str):
        raise bad(f"{name} must be a string")
    if not value:
        raise bad(f"{name} is empty")
    if len(value) > limit:
        raise bad(f"{name} is longer than {limit} characters")
    return value


def _request_info(body: dict) -> tuple[RequestInfo, str]:
    info = body.get("requestInfo")
    if not isinstance(info, dict):
        raise bad("requestInfo must be an object" if "requestInfo" in body else "requestInfo is missing")
    values = {n: _text(info, n, MAX_ID) for n in ("transactionId", "recipient", "sender", "ts")}
    for name in ("transactionId", "sender"):
        if not values[name].isprintable():
            raise bad(f"{name} holds control characters")
    if values["recipient"] != PLATFORM_ID:
        raise bad(f"recipient must be {PLATFORM_ID}")
    return RequestInfo(values["transactionId"], values["sender"]), values["ts"]


def _signature(name: str, value: str) -> bytes:
    """Base64 (standard or URL-safe), its lines broken by newlines or by the two characters
    backslash and n (as the mobile apps write them) or not at all."""
    compact = "".join(value.replace("\\r", "").replace("\\n", "").split())
    try:
        raw = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        try:  # the URL-safe alphabet, with or without padding
            raw = base64.urlsafe_b64decode(compact + "=" * (-len(compact) % 4))
        except (binascii.Error, ValueError):
            raise bad(f"{name} is not base64") from None
    if not raw or len(raw) > MAX_SIGNATURE:
        raise bad(f"{name} must decode to 1 to {MAX_SIGNATURE} bytes")
    return raw


def parse_request(call: Call, body: Any) -> PlatformRequest:
    """The request of ``call`` from a decoded JSON body; PlatformError(400) when malformed."""
    if not isinstance(body, dict):
        raise bad("the body must be a JSON object")
    info, ts = _request_info(body)
    cert_field, nonce_field, sig_field = FIELDS[call]
    certificate = _text(body, cert_field, MAX_CERTIFICATE)
    try:
        nonce = _text(body, nonce_field, MAX_NONCE).encode("utf-8")
    except UnicodeEncodeError:
        raise bad(f"{nonce_field} is not a valid Unicode string") from None
    if len(nonce) > MAX_NONCE:
        raise bad(f"{nonce_field} is longer than {MAX_NONCE} bytes")
    signature = _signature(sig_field, _text(body, sig_field, 4 * MAX_SIGNATURE))
    return PlatformRequest(call, info, ts, certificate, nonce, signature)


__all__ = ["FIELDS", "MAX_BODY", "MAX_NONCE", "PlatformRequest", "bad", "decode_body", "parse_request",
           "request_info_of"]
