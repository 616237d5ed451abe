"""R3.3, R3.7, R4.3, R4.5: what the certificates already on a card allow at the counter
(new issuance, renewal, re-issue after a change of facts, revocation and hold)."""

import re
from datetime import date, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from openjpki.rules import (
    Allowed, CertKind, CertStatus, HeldCertificate, Procedure, Reason, Refused,
    holder_request_decision, new_issuance_decision, new_issuance_kinds,
    reissue_after_change_decision, renewal_decision, renewal_on_card_decision,
)

ON = date(2025, 6, 2)
LATER = date(2029, 5, 15)  # both certificates of the test card expire on this day
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def held(kind, status="good", expiry=LATER, reason=None):
    return HeldCertificate(kind, status, expiry, reason)


def both(sign="good", auth="good", sign_reason=None, auth_reason=None, expiry=LATER):
    return [held("sign", sign, expiry, sign_reason), held("auth", auth, expiry, auth_reason)]


def bilingual(d):
    """Every decision speaks Japanese and English."""
    assert JAPANESE.search(d.message_ja), d.message_ja
    assert re.search(r"[A-Za-z]{3}", d.message_en) and not JAPANESE.search(d.message_en)


# --- the value ------------------------------------------------------------------------------

def test_held_certificate_parses_plain_values():
    c = HeldCertificate("SIGN", "revoked", LATER, Reason.AFFILIATION_CHANGED)
    assert (c.kind, c.status, c.reason) == (CertKind.SIGN, CertStatus.REVOKED,
                                            "affiliationChanged")
    assert not c.live_on(ON)
    assert held("auth").live_on(LATER) and not held("auth").live_on(LATER + timedelta(days=1))
    with pytest.raises(ValueError):
        HeldCertificate("sign", "suspended", LATER)
    with pytest.raises(ValueError):
        HeldCertificate("card", "good", LATER)


# --- R3.7 new issuance ----------------------------------------------------------------------

NEW_ISSUANCE = [
    # id, held, asked, allowed, fragment of the Japanese message
    ("R3_7_both_live_default_refused", both(), (), False, "両方"),
    ("R3_7_sign_live_asked_refused", both(), ("sign",), False, "署名用電子証明書は有効"),
    ("R3_7_auth_live_asked_refused", both(sign="revoked"), ("sign", "auth"), False,
     "利用者証明用電子証明書は有効"),
    ("R3_7_revoked_sign_may_be_issued", both(sign="revoked"), ("sign",), True, "新たに発行"),
    ("R3_7_held_sign_may_be_issued", both(sign="hold"), ("sign",), True, "新たに発行"),
    ("R3_7_default_with_one_lacking_allowed", both(auth="revoked"), (), True, "新たに発行"),
    ("R3_7_card_without_auth", [held("sign")], ("auth",), True, "新たに発行"),
    ("R3_3_expired_certificates_may_be_issued_again", both(expiry=ON - timedelta(days=1)), (),
     True, "新たに発行"),
    ("R3_7_no_card_nothing_stands_in_the_way", None, ("sign", "auth"), True, "新たに発行"),
]


@pytest.mark.parametrize("case", NEW_ISSUANCE, ids=[c[0] for c in NEW_ISSUANCE])
def test_R3_7_new_issuance(case):
    _, on_card, asked, ok, fragment = case
    d = new_issuance_decision(on_card, ON, asked)
    assert (d.allowed, d.rule) == (ok, "R3.7"), d
    assert fragment in d.message_ja
    bilingual(d)
    if not ok:
        assert "renew" in d.message_en


@pytest.mark.parametrize("on_card,expected", [
    (None, (CertKind.SIGN, CertKind.AUTH)),
    (both(), ()),
    (both(sign="revoked"), (CertKind.SIGN,)),
    (both(auth="hold"), (CertKind.AUTH,)),
    ([held("auth")], (CertKind.SIGN,)),
    (both(expiry=ON - timedelta(days=1)), (CertKind.SIGN, CertKind.AUTH)),
], ids=["no_card", "both_live", "sign_revoked", "auth_held", "no_sign", "both_expired"])
def test_R3_7_new_issuance_kinds_are_those_without_a_live_certificate(on_card, expected):
    assert new_issuance_kinds(on_card, ON) == expected


@settings(max_examples=200, deadline=None)
@given(expiry=st.dates(date(2016, 1, 1), date(2040, 12, 31)),
       on=st.dates(date(2016, 1, 1), date(2040, 12, 31)),
       status=st.sampled_from(list(CertStatus)), kind=st.sampled_from(list(CertKind)))
def test_R3_7_R3_3_new_issuance_refused_exactly_over_a_live_certificate(expiry, on, status,
                                                                         kind):
    d = new_issuance_decision([held(kind, status, expiry)], on, (kind,))
    live = status is CertStatus.GOOD and on <= expiry
    assert d.allowed is not live and d.rule == "R3.7"


# --- R3.3 renewal of what the card holds -----------------------------------------------------

RENEWAL = [
    # id, held, kinds, on, allowed, rule
    ("R3_1_both_good_in_window", both(), ("sign", "auth"), date(2029, 3, 1), True, "R3.1"),
    ("R3_2_before_the_window", both(), ("sign", "auth"), date(2029, 2, 14), False, "R3.2"),
    ("R3_3_after_expiry", both(), ("auth",), date(2029, 5, 16), False, "R3.3"),
    ("R3_3_revoked_sign_is_not_renewed", both(sign="revoked"), ("sign",), date(2029, 3, 1),
     False, "R3.3"),
    ("R3_3_held_auth_is_not_renewed", both(auth="hold"), ("sign", "auth"), date(2029, 3, 1),
     False, "R3.3"),
    ("R3_3_missing_sign_is_not_renewed", [held("auth")], ("sign",), date(2029, 3, 1), False,
     "R3.3"),
    ("R3_3_no_card", None, ("auth",), date(2029, 3, 1), False, "R3.3"),
]


@pytest.mark.parametrize("case", RENEWAL, ids=[c[0] for c in RENEWAL])
def test_R3_3_renewal_on_card(case):
    _, on_card, kinds, on, ok, rule = case
    d = renewal_on_card_decision(on_card, on, kinds)
    assert (d.allowed, d.rule) == (ok, rule), d
    bilingual(d)


def test_R3_3_a_certificate_not_good_is_replaced_by_a_new_issuance():
    d = renewal_on_card_decision(both(sign="revoked"), date(2029, 3, 1), ("sign",))
    assert "新規発行" in d.message_ja and "new issuance" in d.message_en
    assert "署名用電子証明書" in d.message_ja and "signature certificate" in d.message_en


def test_R3_2_first_failing_kind_decides_and_names_the_opening_day():
    on_card = [held("sign", expiry=date(2029, 5, 15)), held("auth", expiry=date(2030, 1, 10))]
    d = renewal_on_card_decision(on_card, date(2029, 3, 1), ("sign", "auth"))
    assert d.rule == "R3.2" and d.opens_on == date(2029, 10, 11)


def test_renewal_names_a_certificate():
    with pytest.raises(ValueError):
        renewal_on_card_decision(both(), ON, ())


@settings(max_examples=200, deadline=None)
@given(expiry=st.dates(date(2016, 1, 1), date(2040, 12, 31)),
       on=st.dates(date(2016, 1, 1), date(2040, 12, 31)), kind=st.sampled_from(list(CertKind)))
def test_R3_1_R3_2_R3_3_a_good_certificate_follows_the_renewal_window(expiry, on, kind):
    assert renewal_on_card_decision([held(kind, "good", expiry)], on, (kind,)) == \
        renewal_decision(expiry, on)


# --- R4.5 re-issue after a change of facts --------------------------------------------------

REISSUE = [
    # id, held, allowed, fragment of the English message
    ("R4_5_sign_revoked_by_the_move", both(sign="revoked", sign_reason="affiliationChanged"),
     True, "issued again"),
    ("R4_5_good_sign_nothing_to_reissue", both(), False, "was not revoked"),
    ("R4_5_sign_revoked_on_request_is_a_new_issuance",
     both(sign="revoked", sign_reason="cessationOfOperation"), False, "new issuance"),
    ("R4_5_superseded_sign_is_a_new_issuance", both(sign="revoked", sign_reason="superseded"),
     False, "new issuance"),
    ("R4_5_lost_key_sign_is_a_new_issuance",
     both(sign="revoked", sign_reason="keyCompromise"), False, "new issuance"),
    ("R4_5_held_sign_is_not_reissued", both(sign="hold", sign_reason="certificateHold"), False,
     "new issuance"),
    ("R4_5_card_without_sign", [held("auth")], False, "new issuance"),
    ("R4_5_no_card", None, False, "new issuance"),
    ("R4_2_auth_state_does_not_matter",
     both(sign="revoked", sign_reason="affiliationChanged", auth="hold"), True, "issued again"),
]


@pytest.mark.parametrize("case", REISSUE, ids=[c[0] for c in REISSUE])
def test_R4_5_reissue_after_change(case):
    _, on_card, ok, fragment = case
    d = reissue_after_change_decision(on_card)
    assert (d.allowed, d.rule) == (ok, "R4.5"), d
    assert fragment in d.message_en
    bilingual(d)


def test_R4_5_reissue_takes_the_reason_as_a_reason_value():
    d = reissue_after_change_decision([held("sign", "revoked",
                                            reason=Reason.AFFILIATION_CHANGED)])
    assert isinstance(d, Allowed)


# --- R4.3 revocation and hold on the holder's request ---------------------------------------

REQUESTS = [
    # id, held, procedure, kinds, request, allowed, fragment of the English message
    ("R4_3_no_active_card", None, "revocation", ("sign", "auth"), "voluntary", False,
     "no active card"),
    ("R4_3_no_active_card_hold", None, "hold", ("sign",), "hold", False, "no active card"),
    ("R4_3_kind_not_on_card", [held("auth")], "revocation", ("sign",), "voluntary", False,
     "no signature certificate on this card"),
    ("R4_3_revoke_good", both(), "revocation", ("sign", "auth"), "voluntary", True, "revoked"),
    ("R4_3_revoke_lost_card", both(), "revocation", ("auth",), "lost_card", True,
     "keyCompromise"),
    ("R4_3_revoke_held", both(sign="hold"), "revocation", ("sign",), "key_compromise", True,
     "revoked"),
    ("R4_3_hold_good", both(), "hold", ("sign", "auth"), "hold", True, "on hold"),
    ("R4_3_not_held_twice", both(auth="hold"), "hold", ("sign", "auth"), "hold", False,
     "already on hold"),
    ("R4_3_revocation_is_final", both(sign="revoked"), "revocation", ("sign",), "voluntary",
     False, "stays revoked"),
    ("R4_3_revoked_is_not_held", both(auth="revoked"), "hold", ("auth",), "hold", False,
     "stays revoked"),
    ("R4_3_a_revocation_needs_a_final_reason", both(), "revocation", ("sign",), "hold", False,
     "final reason"),
]


@pytest.mark.parametrize("case", REQUESTS, ids=[c[0] for c in REQUESTS])
def test_R4_3_holder_request(case):
    _, on_card, procedure, kinds, request, ok, fragment = case
    d = holder_request_decision(on_card, procedure, kinds, request)
    assert (d.allowed, d.rule) == (ok, "R4.3"), d
    assert fragment in d.message_en
    bilingual(d)


def test_R4_3_hold_ignores_the_request_reason():
    d = holder_request_decision(both(), Procedure.HOLD, ("sign",), "voluntary")
    assert isinstance(d, Allowed) and "on hold" in d.message_en


def test_R4_3_only_revocation_or_hold():
    with pytest.raises(ValueError):
        holder_request_decision(both(), "renewal", ("sign",))
    with pytest.raises(ValueError):
        holder_request_decision(both(), "revocation", ())
    with pytest.raises(ValueError):
        holder_request_decision(both(), "revocation", ("sign",), "bored")


def test_R4_3_refusals_are_values():
    d = holder_request_decision(None, "revocation", ("sign",))
    assert isinstance(d, Refused) and d.to_dict()["rule"] == "R4.3"
