"""R6.1–R6.5, R7.1, R7.2: kiosk PIN reset and convenience-store issuance."""

import re
from datetime import date, datetime, timedelta

import pytest

from openjpki.rules import (
    JST, FaceMatch, PinCounter, PinKind, after_face_match, after_pin_reset,
    convenience_issuance_decision, convenience_login_decision, kiosk_reset_card_decision,
    kiosk_reset_decision, kiosk_reset_route, pin_for_kiosk_reset, residence_certificate_decision,
)


def J(s):
    return datetime.fromisoformat(s).replace(tzinfo=JST)


@pytest.mark.parametrize("target,other", [("sign", PinKind.AUTH), ("auth", PinKind.SIGN)])
def test_R6_1_each_pin_resets_the_other(target, other):
    assert pin_for_kiosk_reset(target) is other


def test_R6_1_card_pin_is_never_reset_at_a_kiosk():
    with pytest.raises(ValueError):
        pin_for_kiosk_reset("card")


@pytest.mark.parametrize("target,knows,locked,ok", [
    ("sign", True, False, True), ("sign", False, False, False), ("sign", True, True, False),
    ("auth", True, False, True), ("auth", False, False, False),
])
def test_R6_1_route(target, knows, locked, ok):
    d = kiosk_reset_route(target, knows, locked)
    assert (d.allowed, d.rule) == (ok, "R6.1")
    if not ok:
        assert "窓口" in d.message_ja and "counter" in d.message_en


def test_R6_2_five_consecutive_face_match_failures_lock_the_app():
    s = FaceMatch()
    for i in range(1, 5):
        s, d = after_face_match(s, matched=False)
        assert (s.failures, s.app_locked, d.rule) == (i, False, "R6.2")
    s, d = after_face_match(s, matched=False)
    assert s.app_locked and not d.allowed
    s2, d2 = after_face_match(s, matched=True)
    assert s2 == s and not d2.allowed  # locked: even a match does not help


def test_R6_2_a_match_resets_the_consecutive_count():
    s = FaceMatch(failures=4)
    s, d = after_face_match(s, matched=True)
    assert d.allowed and s == FaceMatch()


RESERVATION_CASES = [
    # id, target, prepared, at, allowed, rule
    ("R6_2_sign_within_24h", "sign", "2024-06-14T10:00", "2024-06-15T09:59", True, "R6.2"),
    ("R6_2_sign_exactly_24h", "sign", "2024-06-14T10:00", "2024-06-15T10:00", True, "R6.2"),
    ("R6_2_sign_after_24h", "sign", "2024-06-14T10:00", "2024-06-15T10:01", False, "R6.2"),
    ("R6_3_auth_within_24h", "auth", "2024-06-14T22:00", "2024-06-15T07:00", True, "R6.3"),
    ("R6_3_auth_after_24h", "auth", "2024-06-14T07:00", "2024-06-16T07:00", False, "R6.3"),
    ("R6_4_within_24h_but_kiosk_closed", "auth", "2024-06-14T22:00", "2024-06-14T23:30", False, "R6.4"),
]


@pytest.mark.parametrize("case", RESERVATION_CASES, ids=[c[0] for c in RESERVATION_CASES])
def test_R6_2_R6_3_R6_4_kiosk_step(case):
    _, target, prepared, at, ok, rule = case
    d = kiosk_reset_decision(target, J(prepared), J(at))
    assert (d.allowed, d.rule) == (ok, rule)


def test_R6_kiosk_step_before_app_step_is_a_value_error():
    with pytest.raises(ValueError):
        kiosk_reset_decision("sign", J("2024-06-14T10:00"), J("2024-06-14T09:00"))


@pytest.mark.parametrize("kind", ["sign", "auth"])
def test_R6_5_reset_clears_lock_and_count(kind):
    locked = PinCounter(kind, failures=5 if kind == "sign" else 3, locked=True)
    t = after_pin_reset(locked, "NEWPIN1" if kind == "sign" else "4321")
    assert t.accepted and t.counter.failures == 0 and not t.counter.locked


ISSUANCE_CASES = [
    # id, birth, at, renewed, auth_valid, allowed, rule, opens_on
    ("R7_1_adult_open_hours", "1980-01-01", "2024-06-14T10:00", None, True, True, "R7.2", None),
    ("R7_1_under_15_refused", "2010-06-15", "2024-06-14T10:00", None, True, False, "R7.1", None),
    ("R7_1_fifteenth_birthday_allowed", "2009-06-14", "2024-06-14T10:00", None, True, True, "R7.2", None),
    ("R7_1_needs_valid_auth", "1980-01-01", "2024-06-14T10:00", None, False, False, "R7.1", None),
    ("R7_2_closed_at_night", "1980-01-01", "2024-06-14T23:30", None, True, False, "R7.2", "2024-06-15"),
    ("R7_2_day_after_renewal_refused", "1980-01-01", "2024-06-04T10:00", "2024-06-03", True, False, "R7.2", "2024-06-05"),
    ("R7_2_second_business_day_after_renewal_allowed", "1980-01-01", "2024-06-05T06:30", "2024-06-03", True, True, "R7.2", None),
    ("R7_2_renewed_friday_works_tuesday", "1980-01-01", "2024-06-10T12:00", "2024-06-07", True, False, "R7.2", "2024-06-11"),
]


@pytest.mark.parametrize("case", ISSUANCE_CASES, ids=[c[0] for c in ISSUANCE_CASES])
def test_R7_convenience_issuance(case):
    _, birth, at, renewed, auth_valid, ok, rule, opens = case
    d = convenience_issuance_decision(date.fromisoformat(birth), J(at), auth_valid=auth_valid,
                                      auth_renewed_on=date.fromisoformat(renewed) if renewed else None)
    assert (d.allowed, d.rule) == (ok, rule), d
    if opens:
        assert d.opens_on == date.fromisoformat(opens)


# --- refusals the app, the kiosk and the convenience store give --------------------------------

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _bilingual(d):
    assert JAPANESE.search(d.message_ja) and d.message_en and not JAPANESE.search(d.message_en)


@pytest.mark.parametrize("target,rule", [("sign", "R6.2"), ("auth", "R6.3")])
def test_R6_2_R6_3_no_app_step_no_kiosk_step(target, rule):
    d = kiosk_reset_decision(target, None, J("2024-06-14T10:00"))
    assert (d.allowed, d.rule) == (False, rule)
    assert "アプリ" in d.message_ja and "24 hours" in d.message_en
    _bilingual(d)


def test_R6_2_no_app_step_is_said_even_when_the_kiosk_is_closed():
    d = kiosk_reset_decision("sign", None, J("2024-06-14T23:30"))
    assert d.rule == "R6.2" and "app" in d.message_en


CARD_STATES = [
    # state, allowed
    (None, True), ("active", True), ("returned", False), ("voided", False), ("lost", False),
    ("expired", False),
]


@pytest.mark.parametrize("state,ok", CARD_STATES, ids=[str(s) for s, _ in CARD_STATES])
def test_R6_1_app_reset_only_on_an_active_card(state, ok):
    d = kiosk_reset_card_decision(state)
    assert (d.allowed, d.rule) == (ok, "R6.1")
    _bilingual(d)
    if not ok:
        assert f"The card is {state};" in d.message_en and "窓口" in d.message_ja


def test_R6_1_unknown_card_state_is_a_value_error():
    with pytest.raises(ValueError):
        kiosk_reset_card_decision("shredded")


@pytest.mark.parametrize("problem,ok", [
    (None, True),
    ("the card's signature over the challenge does not verify", False),
    ("the certificate was not issued by the user authentication authority", False),
])
def test_R7_1_login_with_the_auth_certificate(problem, ok):
    d = convenience_login_decision(problem)
    assert (d.allowed, d.rule) == (ok, "R7.1")
    _bilingual(d)
    if problem:
        assert d.message_en == f"Login with the user authentication certificate failed: {problem}."
        assert d.message_ja == "利用者証明用電子証明書による本人確認ができませんでした。"


@pytest.mark.parametrize("on_register,ok", [(True, True), (False, False)])
def test_R5_2_residence_certificate_only_for_the_register(on_register, ok):
    d = residence_certificate_decision(on_register)
    assert (d.allowed, d.rule) == (ok, "R5.2")
    _bilingual(d)
    if not ok:
        assert "住民基本台帳" in d.message_ja and "resident register" in d.message_en
