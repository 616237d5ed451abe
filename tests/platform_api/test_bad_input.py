"""Malformed requests are the contract's 400 in its one shape (never a validation problem
response, never a 5xx), whatever is wrong: the JSON, a field, the nonce, the signature, the
certificate or its JWE."""

from __future__ import annotations

import base64
import uuid

import pytest

from openjpki.services.platform import encrypt_certificate

from .kit import card_sign, pem, signed


def test_malformed_json_is_400(call):
    for raw in (b"{", b"", b"[]", b"null", b"\xff\xfe", b'"text"'):
        status, answer = call("login", None, raw=raw)
        assert status == 400, raw
        assert answer["responseInfo"]["transactionId"] == ""


@pytest.mark.parametrize("call_name", ["registration", "login", "replacement"])
def test_every_missing_field_is_400(call, holder, call_name):
    cert = holder["auth"] if call_name == "login" else holder["sign"]
    key = holder["auth_key"] if call_name == "login" else holder["sign_key"]
    full = signed(call_name, "SP-missing", cert, key)
    for name in list(full):
        request = {k: v for k, v in full.items() if k != name}
        assert call(call_name, request)[0] == 400, name
    for name in list(full["requestInfo"]):
        request = dict(full, requestInfo={k: v for k, v in full["requestInfo"].items() if k != name})
        assert call(call_name, request)[0] == 400, name


def test_wrong_types_and_recipient_are_400(call, holder):
    base = signed("login", "SP-types", holder["auth"], holder["auth_key"])
    for change in ({"nonceData": 12}, {"nonceSign": None}, {"requestInfo": "x"},
                   {"requestInfo": dict(base["requestInfo"], recipient="JLIS")},
                   {"requestInfo": dict(base["requestInfo"], sender=["x"])},
                   {"encryptedCertificateForUser": {"a": 1}}):
        assert call("login", {**base, **change})[0] == 400, change


def test_an_empty_or_oversized_nonce_is_400(call, holder):
    for nonce in ("", "n" * 1025, "あ" * 342):  # 342 × 3 bytes > 1024
        request = signed("login", "SP-nonce", holder["auth"], holder["auth_key"], nonce or "x")
        request["nonceData"] = nonce
        status, answer = call("login", request)
        assert status == 400 and "nonceData" in answer["status"]["errorInfo"]["message"]


def test_a_signature_that_is_not_base64_or_empty_is_400(call, holder):
    request = signed("login", "SP-sig", holder["auth"], holder["auth_key"])
    for value in ("***", "", "QQ" * 3000):
        assert call("login", {**request, "nonceSign": value})[0] == 400, value[:8]


def test_a_certificate_that_is_neither_jwe_nor_pem_is_400(call, holder):
    request = signed("login", "SP-cert", holder["auth"], holder["auth_key"])
    for value in ("hello", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----",
                  base64.b64encode(pem(holder["auth"])).decode(), "a.b.c.d.e"):
        assert call("login", {**request, "encryptedCertificateForUser": value})[0] == 400, value[:12]


def test_a_jwe_for_another_key_or_truncated_is_400(call, holder, jwk, other_key):
    from joserfc.jwk import RSAKey

    stranger = RSAKey.import_key(other_key).as_dict(private=False)
    request = signed("login", "SP-jwe", holder["auth"], holder["auth_key"])
    foreign = encrypt_certificate(pem(holder["auth"]), {**stranger, "kid": "someone-else"})
    foreign_no_kid = encrypt_certificate(pem(holder["auth"]), stranger)
    good = encrypt_certificate(pem(holder["auth"]), jwk)
    head, key, iv, text, tag = good.split(".")
    for value in (foreign, foreign_no_kid, good[:-10], ".".join([head, key, iv, text[:-8], tag]),
                  ".".join([head, key[:-4], iv, text, tag]), ".".join(["e30", key, iv, text, tag])):
        status, answer = call("login", {**request, "encryptedCertificateForUser": value})
        assert status == 400, answer


def test_a_jwe_with_an_algorithm_not_offered_is_400(call, holder, jwk):
    from joserfc import jwe
    from joserfc.jwe import JWERegistry
    from joserfc.jwk import RSAKey

    token = jwe.encrypt_compact({"alg": "RSA-OAEP", "enc": "A128GCM"}, pem(holder["auth"]),
                                RSAKey.import_key(jwk), registry=JWERegistry(algorithms=["RSA-OAEP", "A128GCM"]))
    request = signed("login", "SP-alg", holder["auth"], holder["auth_key"])
    assert call("login", {**request, "encryptedCertificateForUser": token})[0] == 400


def test_a_body_over_the_limit_is_400_in_shape(call):
    status, _ = call("registration", None, raw=b'{"x": "' + b"a" * 300_000 + b'"}')
    assert status == 400


def test_extra_members_in_the_request_are_ignored(call, holder):
    sp = f"SP-{uuid.uuid4().hex[:6]}"
    request = signed("registration", sp, holder["sign"], holder["sign_key"])
    request["somethingElse"] = {"nested": True}
    assert call("registration", request)[0] == 200


def test_a_signature_over_the_nonce_is_checked_on_its_exact_bytes(call, holder):
    nonce = "c7fdd0dc199fd75a790a1f74183a2b34906f1efae4a0419333daa729f5358f5c"
    request = signed("registration", f"SP-{uuid.uuid4().hex[:6]}", holder["sign"], holder["sign_key"], nonce)
    request["sign"] = base64.b64encode(card_sign(holder["sign_key"], nonce.upper().encode())).decode()
    assert call("registration", request)[0] == 401


def test_a_signature_with_line_breaks_as_the_apps_write_them_is_read(call, holder):
    sp = f"SP-{uuid.uuid4().hex[:6]}"
    statuses = []
    for joiner in ("\n", "\\n", "\r\n"):
        request = signed("registration", sp, holder["sign"], holder["sign_key"])
        sig = request["sign"]
        request["sign"] = joiner.join(sig[i:i + 76] for i in range(0, len(sig), 76))
        statuses.append(call("registration", request)[0])
    assert statuses == [200, 409, 409]  # each read and verified; the holder registered by the first
