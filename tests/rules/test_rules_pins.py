"""R1.3, R1.4, R1.6, R1.7, R6.5: PIN forms and the failure counter."""

import json

import pytest
from hypothesis import given, settings, strategies as st

from openjpki.rules import (
    AUTH_PIN_RETRY_LIMIT, SIGN_PIN_RETRY_LIMIT, Allowed, PinCounter, PinKind, Refused,
    after_pin_change, after_pin_reset, after_pin_try, pin_refused_by_card, retry_limit,
    validate_auth_pin,
    validate_card_pin, validate_pin, validate_sign_pin,
)

SIGN_CASES = [
    # value, valid, reason (for the test id)
    ("ABC123", True, "six_chars_min"),
    ("A1", False, "too_short"),
    ("ABCDE", False, "five_letters"),
    ("ABCDE1", True, "five_letters_one_digit"),
    ("1BCDEFGHIJKLMNOP", True, "sixteen_chars_max"),
    ("1BCDEFGHIJKLMNOPQ", False, "seventeen_chars"),
    ("ABCDEF", False, "no_digit"),
    ("123456", False, "no_letter"),
    ("abc123", False, "lowercase"),
    ("ABc123", False, "one_lowercase"),
    ("ABC 123", False, "space"),
    ("ABC-123", False, "symbol"),
    ("ＡＢＣ１２３", False, "full_width"),
    ("", False, "empty"),
    ("Z9Z9Z9Z9", True, "alternating"),
]


@pytest.mark.parametrize("value,valid,why", SIGN_CASES, ids=[c[2] for c in SIGN_CASES])
def test_R1_3_sign_pin_form(value, valid, why):
    d = validate_sign_pin(value)
    assert d.allowed is valid
    assert d.rule == "R1.3"
    assert d.message_ja and d.message_en
    assert validate_pin("sign", value) == d


def test_R1_3_sign_pin_lowercase_is_refused_with_a_message_saying_uppercase():
    d = validate_sign_pin("abcd12")
    assert isinstance(d, Refused)
    assert "大文字" in d.message_ja and "uppercase" in d.message_en


@pytest.mark.parametrize("value,valid", [
    ("1234", True), ("0000", True), ("123", False), ("12345", False), ("12a4", False),
    ("１２３４", False), ("٠١٢٣", False), ("", False), (" 123", False),
])
def test_R1_3_auth_pin_is_exactly_four_digits(value, valid):
    d = validate_auth_pin(value)
    assert (d.allowed, d.rule) == (valid, "R1.3")


@pytest.mark.parametrize("value,valid", [("9876", True), ("987", False), ("98765", False),
                                         ("ABCD", False)])
def test_R1_6_card_pin_is_four_digits(value, valid):
    d = validate_card_pin(value)
    assert (d.allowed, d.rule) == (valid, "R1.6")
    assert validate_pin(PinKind.CARD, value) == d


@settings(deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=0, max_size=20))
def test_R1_3_sign_pin_property(value):
    expected = (6 <= len(value) <= 16 and any(c.isalpha() for c in value)
                and any(c.isdigit() for c in value))
    assert validate_sign_pin(value).allowed is expected


@settings(deadline=None)
@given(st.text(max_size=20))
def test_R1_3_R1_6_any_text_never_raises_and_allows_only_the_right_form(value):
    assert validate_auth_pin(value).allowed is (len(value) == 4 and all(c in "0123456789" for c in value))
    assert validate_card_pin(value).allowed is validate_auth_pin(value).allowed
    validate_sign_pin(value)


def test_unknown_pin_kind_is_a_value_error():
    with pytest.raises(ValueError):
        validate_pin("bank", "1234")


@pytest.mark.parametrize("kind,limit", [("sign", 5), ("auth", 3)])
def test_R1_4_retry_limits(kind, limit):
    assert retry_limit(kind) == limit
    assert (SIGN_PIN_RETRY_LIMIT, AUTH_PIN_RETRY_LIMIT) == (5, 3)


@pytest.mark.parametrize("kind", ["sign", "auth"])
def test_R1_4_locks_at_the_limit_and_not_before(kind):
    c = PinCounter(kind)
    for i in range(1, retry_limit(kind)):
        t = after_pin_try(c, correct=False)
        c = t.counter
        assert (t.decision.rule, c.failures, c.locked) == ("R1.4", i, False)
        assert c.remaining == retry_limit(kind) - i
    t = after_pin_try(c, correct=False)
    assert t.counter.locked and t.counter.remaining == 0
    assert t.decision.rule == "R1.4" and not t.accepted


@pytest.mark.parametrize("kind", ["sign", "auth"])
def test_R1_7_correct_pin_resets_the_count(kind):
    c = PinCounter(kind, failures=retry_limit(kind) - 1)
    t = after_pin_try(c, correct=True)
    assert t.accepted and t.counter.failures == 0 and t.decision.rule == "R1.7"
    # and the full allowance is back
    for _ in range(retry_limit(kind) - 1):
        t = after_pin_try(t.counter, correct=False)
    assert not t.counter.locked


def test_R1_7_locked_pin_refuses_even_the_right_one():
    c = PinCounter("auth", failures=3, locked=True)
    t = after_pin_try(c, correct=True)
    assert not t.accepted and t.counter == c and t.decision.rule == "R1.7"


def test_R1_7_change_needs_the_current_pin():
    c = PinCounter("sign")
    bad = after_pin_change(c, current_correct=False, new_pin="NEW123")
    assert not bad.accepted and bad.counter.failures == 1
    good = after_pin_change(bad.counter, current_correct=True, new_pin="NEW123")
    assert good.accepted and good.counter.failures == 0 and good.decision.rule == "R1.7"


def test_R1_7_locked_pin_cannot_be_changed_only_reset():
    c = PinCounter("sign", failures=5, locked=True)
    assert after_pin_change(c, True, "NEW123").decision.rule == "R1.7"
    r = after_pin_reset(c, "NEW123")
    assert r.accepted and r.counter == PinCounter("sign") and r.decision.rule == "R6.5"


def test_R1_3_malformed_new_pin_costs_no_try():
    c = PinCounter("auth", failures=2)
    t = after_pin_change(c, current_correct=False, new_pin="12")
    assert t.counter == c and t.decision.rule == "R1.3"
    assert after_pin_reset(c, "abcd").decision.rule == "R1.3"


def test_decision_to_json_round_trip():
    d = validate_sign_pin("abc")
    j = json.loads(d.to_json())
    assert j["allowed"] is False and j["rule"] == "R1.3" and j["outcome"] == "refused"
    assert json.loads(Allowed("R1.3").to_json())["allowed"] is True


def test_decision_rejects_a_rule_number_that_is_not_one():
    with pytest.raises(ValueError):
        Refused("3.2", "x", "y")


# --- what a card's answer to a PIN means (R1.4, R1.7) ----------------------------------------

CARD_ANSWERS = [
    # id, kind, tries_left, locked, rule, Japanese fragment, English fragment
    ("R1_4_sign_four_left", "sign", 4, False, "R1.4", "あと4回", "4 more wrong tries"),
    ("R1_4_sign_one_left", "sign", 1, False, "R1.4", "あと1回", "1 more wrong try"),
    ("R1_4_sign_last_try_locks", "sign", 0, False, "R1.4", "5回連続", "now locked"),
    ("R1_4_auth_two_left", "auth", 2, False, "R1.4", "あと2回", "2 more wrong tries"),
    ("R1_4_auth_last_try_locks", "auth", 0, False, "R1.4", "3回連続", "now locked"),
    ("R1_4_card_pin_one_left", "card", 1, False, "R1.4", "住民基本台帳用暗証番号", "1 more"),
    ("R1_4_unknown_counts_as_first_wrong_try", "sign", None, False, "R1.4", "あと4回",
     "4 more wrong tries"),
    ("R1_4_more_than_the_limit_is_clamped", "auth", 7, False, "R1.4", "あと2回", "2 more"),
    ("R1_7_already_locked", "sign", None, True, "R1.7", "ロックされています", "only a PIN reset"),
    ("R1_7_locked_ignores_tries_left", "auth", 2, True, "R1.7", "ロックされています",
     "only a PIN reset"),
]


@pytest.mark.parametrize("case", CARD_ANSWERS, ids=[c[0] for c in CARD_ANSWERS])
def test_R1_4_R1_7_pin_refused_by_card(case):
    _, kind, left, locked, rule, ja, en = case
    d = pin_refused_by_card(kind, left, locked=locked)
    assert isinstance(d, Refused) and d.rule == rule
    assert ja in d.message_ja and en in d.message_en


@settings(deadline=None)
@given(kind=st.sampled_from(["sign", "auth", "card"]), wrong=st.integers(1, 5))
def test_R1_4_the_cards_count_gives_the_same_words_as_the_counter(kind, wrong):
    """However many wrong tries in a row, reading the tries left off the card gives the
    refusal the rules' own counter gives."""
    counter = PinCounter(kind)
    for _ in range(min(wrong, counter.limit)):
        tried = after_pin_try(counter, correct=False)
        assert pin_refused_by_card(kind, tried.counter.remaining) == tried.decision
        counter = tried.counter
    if counter.locked:
        assert pin_refused_by_card(kind, 0, locked=True) == \
            after_pin_try(counter, correct=True).decision
