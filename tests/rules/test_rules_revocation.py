"""R3.7, R4.1–R4.5: which certificates end, with which RFC 5280 reason; status changes."""

import pytest
from cryptography import x509

from openjpki.rules import (
    CardEnd, CertKind, CertStatus, FactChange, HolderRequest, Reason, certificates_ending,
    revocation_for_replacement, revocations_for_card_end, revocations_for_fact_change,
    revocations_for_holder_request, status_transition,
)


def test_reason_values_are_cryptography_reason_flags():
    for r in Reason:
        assert x509.ReasonFlags(r.value).value == r.value
    assert {r.value for r in Reason} == {"affiliationChanged", "superseded",
                                         "cessationOfOperation", "keyCompromise",
                                         "certificateHold", "unspecified"}


@pytest.mark.parametrize("change", list(FactChange), ids=[c.value for c in FactChange])
def test_R4_1_R4_2_fact_change_revokes_sign_only_affiliation_changed(change):
    ends = revocations_for_fact_change(change)
    assert [(e.kind, e.reason, e.rule) for e in ends] == [
        (CertKind.SIGN, Reason.AFFILIATION_CHANGED, "R4.1")]
    assert not any(e.kind is CertKind.AUTH for e in ends)  # R4.2


def test_R4_5_fact_change_offers_sign_reissue_same_visit():
    (e,) = revocations_for_fact_change("move_in")
    assert e.reissue_same_visit
    assert e.to_dict()["reason"] == "affiliationChanged"


REQUEST_CASES = [
    ("voluntary", ["sign"], [("sign", "cessationOfOperation")]),
    ("voluntary", ["sign", "auth"], [("sign", "cessationOfOperation"), ("auth", "cessationOfOperation")]),
    ("hold", ["auth"], [("auth", "certificateHold")]),
    ("lost_card", ["sign", "auth"], [("sign", "keyCompromise"), ("auth", "keyCompromise")]),
    ("key_compromise", ["sign"], [("sign", "keyCompromise")]),
    ("destroyed_before_use", ["auth"], [("auth", "unspecified")]),
]


@pytest.mark.parametrize("request_,kinds,expected", REQUEST_CASES,
                         ids=[f"{c[0]}-{'+'.join(c[1])}" for c in REQUEST_CASES])
def test_R4_3_holder_request(request_, kinds, expected):
    ends = revocations_for_holder_request(request_, kinds)
    assert [(e.kind.value, e.reason.value) for e in ends] == expected
    assert all(e.rule == "R4.3" for e in ends)


@pytest.mark.parametrize("end,reason", [("returned", "cessationOfOperation"),
                                        ("voided", "cessationOfOperation"),
                                        ("lost", "keyCompromise"), ("expired", None)])
def test_R4_4_card_end_ends_both(end, reason):
    ends = revocations_for_card_end(end)
    assert {e.kind for e in ends} == {CertKind.SIGN, CertKind.AUTH}
    assert all(e.rule == "R4.4" and (e.reason.value if e.reason else None) == reason for e in ends)


@pytest.mark.parametrize("kind", ["sign", "auth"])
def test_R3_7_renewal_supersedes_the_previous_certificate(kind):
    e = revocation_for_replacement(kind)
    assert (e.kind.value, e.reason, e.rule) == (kind, Reason.SUPERSEDED, "R3.7")


def test_certificates_ending_dispatches():
    assert certificates_ending(FactChange.SEX)[0].rule == "R4.1"
    assert certificates_ending(HolderRequest.HOLD, ["sign"])[0].reason is Reason.CERTIFICATE_HOLD
    assert len(certificates_ending(CardEnd.RETURNED)) == 2
    with pytest.raises(TypeError):
        certificates_ending("move")


TRANSITIONS = [
    # current, target, reason, allowed
    ("good", "hold", None, True),
    ("good", "hold", "certificateHold", True),
    ("good", "hold", "keyCompromise", False),
    ("good", "revoked", "keyCompromise", True),
    ("good", "revoked", "superseded", True),
    ("good", "revoked", None, False),
    ("good", "revoked", "certificateHold", False),
    ("hold", "revoked", "cessationOfOperation", True),
    ("hold", "revoked", "keyCompromise", True),
    ("hold", "revoked", "certificateHold", False),
    ("hold", "good", None, False),
    ("hold", "hold", None, False),
    ("revoked", "good", None, False),
    ("revoked", "hold", None, False),
    ("revoked", "revoked", "keyCompromise", False),
    ("good", "good", None, False),
]


@pytest.mark.parametrize("current,target,reason,allowed", TRANSITIONS,
                         ids=[f"{c}-{t}-{r}" for c, t, r, _ in TRANSITIONS])
def test_R4_3_status_transitions(current, target, reason, allowed):
    d = status_transition(current, target, reason)
    assert d.allowed is allowed and d.rule == "R4.3"


def test_R4_3_hold_is_never_released_message():
    d = status_transition(CertStatus.HOLD, CertStatus.GOOD)
    assert "never released" in d.message_en and "解除" in d.message_ja


def test_unknown_reason_is_a_value_error():
    with pytest.raises(ValueError):
        status_transition("good", "revoked", "removeFromCRL")
