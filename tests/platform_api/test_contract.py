"""The platform API's calls as the identity provider makes them (in process, SQLite): every
answer checked against docs/platform-openapi.yaml with no unknown member, and the statuses
of the contract's table — register, duplicate, log-in through the register's link, the move
and the replacement, the refusals."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from openjpki.pki import SignFacts

from rp.conftest import FACTS
from .kit import foreign_sign_certificate, pem, signed

MOVED = SignFacts(name=FACTS.name, address="埼玉県川口市本町四丁目1番1号", birth_date=FACTS.birth_date, sex=FACTS.sex)


def sender() -> str:
    return f"SP-{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("enc", ["A128CBC-HS256", "A256GCM"])
def test_register_then_login_with_the_linked_auth_certificate(call, holder, jwk, enc):
    sp = sender()
    status, reg = call("registration", signed("registration", sp, holder["sign"], holder["sign_key"],
                                              jwk=jwk, enc=enc))
    assert status == 200 and reg["status"] == {"status": "SUCCESS"}, reg
    identity = reg["identityInfo"]
    assert identity["name"] == FACTS.name and identity["address"] == FACTS.address
    assert identity["dateOfBirth"] == "1988-02-29" and identity["gender"] == "2"
    # the AUTH certificate was never presented: the register links it to the SIGN one
    status, login = call("login", signed("login", sp, holder["auth"], holder["auth_key"], jwk=jwk, enc=enc))
    assert status == 200, login
    assert login["identityInfo"] == identity
    status, again = call("login", signed("login", sp, holder["auth"], holder["auth_key"]))  # bare PEM
    assert status == 200 and again["identityInfo"]["tisUserId"] == identity["tisUserId"]


@pytest.mark.parametrize("one_line", ["\n", "\\n", "\r\n"])
def test_the_pem_inside_may_be_joined_as_each_app_joins_it(call, holder, jwk, one_line):
    status, _ = call("registration", signed("registration", sender(), holder["sign"], holder["sign_key"],
                                            jwk=jwk, one_line=one_line))
    assert status == 200


def test_the_contracts_bare_pem_with_backslash_n_is_accepted(call, holder):
    sp = sender()
    assert call("registration", signed("registration", sp, holder["sign"], holder["sign_key"]))[0] == 200
    text = pem(holder["auth"]).decode().replace("\n", "\\n")
    request = signed("login", sp, holder["auth"], holder["auth_key"])
    request["encryptedCertificateForUser"] = text
    assert call("login", request)[0] == 200


def test_a_second_registration_of_the_same_holder_is_409(call, holder, jwk):
    sp = sender()
    assert call("registration", signed("registration", sp, holder["sign"], holder["sign_key"], jwk=jwk))[0] == 200
    status, answer = call("registration", signed("registration", sp, holder["sign"], holder["sign_key"], jwk=jwk))
    assert status == 409 and answer["status"]["errorInfo"]["reason"] == "409 Conflict"


def test_registrations_are_per_provider_with_pairwise_ids(call, holder, jwk):
    ids = set()
    for sp in (sender(), sender()):
        status, answer = call("registration", signed("registration", sp, holder["sign"], holder["sign_key"], jwk=jwk))
        assert status == 200
        ids.add(answer["identityInfo"]["tisUserId"])
    assert len(ids) == 2


def test_R4_1_move_login_410_then_replacement_keeps_the_id_with_the_new_address(call, holder, home, jwk, clock):
    sp = sender()
    _, reg = call("registration", signed("registration", sp, holder["sign"], holder["sign_key"], jwk=jwk))
    # 転居: the SIGN certificate is revoked (affiliationChanged) and a new one issued (R4.5)
    home.service.revoke(format(holder["sign"].serial_number, "x"), "affiliationChanged", at=clock.now)
    new_sign = home.issue("sign", holder["sign_key"], facts=MOVED, resident_id=holder["resident"])
    clock.now += timedelta(minutes=1)
    nonce = str(uuid.uuid4())
    status, gone = call("login", signed("login", sp, holder["auth"], holder["auth_key"], nonce, jwk=jwk))
    assert status == 410 and gone["status"]["errorInfo"]["reason"] == "410 Gone"
    # the same nonce comes back, signed with the new SIGN key
    status, replaced = call("replacement", signed("replacement", sp, new_sign, holder["sign_key"], nonce, jwk=jwk))
    assert status == 200, replaced
    assert replaced["identityInfo"]["tisUserId"] == reg["identityInfo"]["tisUserId"]
    assert replaced["identityInfo"]["address"] == MOVED.address
    status, login = call("login", signed("login", sp, holder["auth"], holder["auth_key"], jwk=jwk))
    assert status == 200 and login["identityInfo"] == replaced["identityInfo"]


def test_replacement_without_a_registration_is_404(call, holder, jwk):
    status, _ = call("replacement", signed("replacement", sender(), holder["sign"], holder["sign_key"], jwk=jwk))
    assert status == 404


def test_login_of_an_unregistered_holder_is_404(call, holder, jwk):
    assert call("login", signed("login", sender(), holder["auth"], holder["auth_key"], jwk=jwk))[0] == 404


@pytest.mark.parametrize("change", ["revoke", "hold", "expire"])
def test_R4_3_an_auth_certificate_revoked_held_or_expired_is_401(call, holder, home, jwk, clock, change):
    sp = sender()
    assert call("registration", signed("registration", sp, holder["sign"], holder["sign_key"], jwk=jwk))[0] == 200
    serial = format(holder["auth"].serial_number, "x")
    if change == "revoke":
        home.service.revoke(serial, "keyCompromise", at=clock.now)
    elif change == "hold":
        home.service.hold(serial, at=clock.now)
    else:
        clock.now = holder["auth"].not_valid_after_utc + timedelta(days=1)
    status, answer = call("login", signed("login", sp, holder["auth"], holder["auth_key"], jwk=jwk))
    assert status == 401 and answer["status"]["errorInfo"]["reason"] == "401 Unauthorized"


def test_a_revoked_sign_certificate_cannot_register(call, holder, home, jwk, clock):
    home.service.revoke(format(holder["sign"].serial_number, "x"), "affiliationChanged", at=clock.now)
    assert call("registration", signed("registration", sender(), holder["sign"], holder["sign_key"], jwk=jwk))[0] == 401


def test_R1_1_the_wrong_certificate_for_the_call_is_401(call, holder, jwk):
    sp = sender()
    assert call("registration", signed("registration", sp, holder["auth"], holder["auth_key"], jwk=jwk))[0] == 401
    assert call("registration", signed("registration", sp, holder["sign"], holder["sign_key"], jwk=jwk))[0] == 200
    assert call("login", signed("login", sp, holder["sign"], holder["sign_key"], jwk=jwk))[0] == 401


def test_a_bad_signature_is_401(call, holder, jwk, other_key):
    sp = sender()
    request = signed("registration", sp, holder["sign"], other_key, jwk=jwk)
    status, answer = call("registration", request)
    assert status == 401 and "署名検証失敗" in answer["status"]["errorInfo"]["message"]
    nonce = str(uuid.uuid4())
    request = signed("registration", sp, holder["sign"], holder["sign_key"], nonce, jwk=jwk)
    request["applicantData"] = nonce + " "  # the signature covers exactly the bytes sent
    assert call("registration", request)[0] == 401


def test_a_certificate_not_issued_by_our_authorities_is_401(call, other_key):
    cert = foreign_sign_certificate(other_key)  # a root of the same name, another key
    assert call("registration", signed("registration", sender(), cert, other_key))[0] == 401


def test_the_same_signed_nonce_is_refused_the_second_time(call, holder, jwk):
    sp = sender()
    assert call("registration", signed("registration", sp, holder["sign"], holder["sign_key"], jwk=jwk))[0] == 200
    nonce = str(uuid.uuid4())
    request = signed("login", sp, holder["auth"], holder["auth_key"], nonce, jwk=jwk)
    assert call("login", request)[0] == 200
    status, answer = call("login", request)
    assert status == 401 and "replay" in answer["status"]["errorInfo"]["message"]
    # another provider's window is its own
    other = sender()
    assert call("registration", signed("registration", other, holder["sign"], holder["sign_key"], jwk=jwk))[0] == 200
    assert call("login", signed("login", other, holder["auth"], holder["auth_key"], nonce, jwk=jwk))[0] == 200


def test_after_the_replay_window_the_same_nonce_is_accepted_again(call, holder, jwk, clock):
    sp = sender()
    assert call("registration", signed("registration", sp, holder["sign"], holder["sign_key"], jwk=jwk))[0] == 200
    request = signed("login", sp, holder["auth"], holder["auth_key"], jwk=jwk)
    assert call("login", request)[0] == 200
    clock.now += timedelta(minutes=9)
    assert call("login", request)[0] == 401
    clock.now += timedelta(minutes=2)  # ten minutes after the first use
    assert call("login", request)[0] == 200
    assert call("login", request)[0] == 401
