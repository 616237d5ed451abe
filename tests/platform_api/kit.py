"""Helpers of the platform API tests: request bodies as the identity provider builds them,
the answers checked against the schemas of docs/platform-openapi.yaml (every member known,
``additionalProperties: false``), and the statuses each call may answer."""

from __future__ import annotations

import base64
import uuid
from functools import lru_cache
from pathlib import Path
from typing import Optional

import jsonschema
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openjpki.services.platform import encrypt_certificate

DOC = Path(__file__).resolve().parents[2] / "docs" / "platform-openapi.yaml"
PATHS = {"registration": "/verify/registration", "login": "/verify/login", "replacement": "/verify/replacement"}
ALLOWED = {"registration": {200, 400, 401, 409, 500, 503}, "login": {200, 400, 401, 404, 410, 500, 503},
           "replacement": {200, 400, 401, 404, 500, 503}}
FIELDS = {"registration": ("encryptedCertificateForSign", "applicantData", "sign"),
          "replacement": ("encryptedCertificateForSign", "applicantData", "sign"),
          "login": ("encryptedCertificateForUser", "nonceData", "nonceSign")}


@lru_cache(maxsize=None)
def openapi() -> dict:
    return yaml.safe_load(DOC.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def validator(name: str) -> jsonschema.protocols.Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": openapi()["components"]}
    cls = jsonschema.validators.validator_for({"$schema": "https://json-schema.org/draft/2020-12/schema"})
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def check_answer(call: str, status: int, body: dict, request: Optional[dict] = None) -> dict:
    """The answer is one the caller can read: a status of the call's table and a body of
    exactly the contract's shape, echoing the request's transaction id and sender."""
    assert status in ALLOWED[call], (status, body)
    validator("SuccessResponse" if status == 200 else "FailureResponse").validate(body)
    if status != 200:
        assert body["status"]["errorInfo"]["reason"].startswith(str(status))
    if request is not None and isinstance(request.get("requestInfo"), dict):
        info = request["requestInfo"]
        if isinstance(info.get("transactionId"), str) and isinstance(info.get("sender"), str):
            assert body["responseInfo"]["transactionId"] == info["transactionId"]
            assert body["responseInfo"]["recipient"] == info["sender"]
    return body


def card_sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    """What the card's sign command makes: PKCS#1 v1.5 over SHA-256 of the data."""
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def body(call: str, sender: str, cert: x509.Certificate | bytes, signature: bytes, nonce: str, *,
         jwk: Optional[dict] = None, enc: str = "A128CBC-HS256", one_line: str = "\n",
         transaction_id: Optional[str] = None) -> dict:
    """A request as the identity provider sends it: the certificate encrypted to ``jwk`` (or
    the bare PEM when None)."""
    raw = pem(cert) if isinstance(cert, x509.Certificate) else cert
    cert_field, nonce_field, sig_field = FIELDS[call]
    certificate = encrypt_certificate(raw, jwk, enc=enc, one_line=one_line) if jwk else raw.decode()
    return {"requestInfo": {"transactionId": transaction_id or str(uuid.uuid4()), "recipient": "JPKI",
                            "sender": sender, "ts": "2025-04-01 11:00:00.123"},
            cert_field: certificate, nonce_field: nonce, sig_field: base64.b64encode(signature).decode()}


def signed(call: str, sender: str, cert: x509.Certificate, key: rsa.RSAPrivateKey, nonce: Optional[str] = None,
           **kw) -> dict:
    nonce = nonce or str(uuid.uuid4())
    return body(call, sender, cert, card_sign(key, nonce.encode()), nonce, **kw)


def foreign_sign_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    """A SIGN certificate from a root made the same way as ours by an unrelated key."""
    from datetime import date, datetime, timedelta, timezone

    from openjpki.pki import KeySigner, Kind, ProfileOptions, SignFacts, issue_certificate, make_root, new_serial

    signer = KeySigner(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    start = datetime(2023, 7, 16, tzinfo=timezone.utc)
    root = make_root(Kind.SIGN, signer, not_before=start)
    facts = SignFacts(name="偽造　太郎", address="東京都千代田区千代田1番1号", birth_date=date(1980, 1, 1), sex=1)
    return issue_certificate(Kind.SIGN, issuer=root, signer=signer, public_key=key.public_key(), serial=new_serial(),
                             not_before=start + timedelta(days=1), last_valid_day=date(2029, 2, 28),
                             subject_id="FORGED00000000000001", options=ProfileOptions(),
                             prefecture="東京都", municipality="千代田区", facts=facts)
