"""R3.7, R4.1–R4.5: which certificates end, with which RFC 5280 reason; status changes."""

import pytest
from cryptography import x509

from openjpki.rules import (
    CardEnd, CertKind, CertStatus, FactChange, HolderRequest, Reason,
    certificate_status_decision, certificates_ending, request_reason,
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


@pytest.mark.parametrize("request_,reason", [
    ("voluntary", Reason.CESSATION_OF_OPERATION), ("hold", Reason.CERTIFICATE_HOLD),
    ("lost_card", Reason.KEY_COMPROMISE), ("key_compromise", Reason.KEY_COMPROMISE),
    ("destroyed_before_use", Reason.UNSPECIFIED)])
def test_R4_3_request_reason(request_, reason):
    assert request_reason(request_) is reason
    assert revocations_for_holder_request(request_, ["sign"])[0].reason is reason


STATUS_USE = [
    # id, kind, status, reason, allowed, rule, Japanese message, English message
    ("R4_3_good_sign_is_used", "sign", "good", None, True, "R4.3",
     "署名用電子証明書は有効です。", "The signature certificate is good."),
    ("R4_1_sign_revoked_by_a_change_of_facts", "sign", "revoked", "affiliationChanged", False,
     "R4.1", "基本4情報（氏名・住所等）の変更により、署名用電子証明書は失効しています。"
     "市区町村の窓口で再発行を受けてください。",
     "The signature certificate was revoked when the holder's basic facts changed "
     "(affiliationChanged); a new one can be issued at the counter."),
    ("R3_7_superseded_by_a_new_certificate", "sign", "revoked", "superseded", False, "R3.7",
     "署名用電子証明書は、新しい電子証明書の発行により失効しています（superseded）。"
     "カードに書き込まれた新しい電子証明書を使ってください。",
     "The signature certificate was revoked when a new one replaced it (superseded); use "
     "the new certificate written to the card."),
    ("R4_3_revoked_on_request", "sign", "revoked", "cessationOfOperation", False, "R4.3",
     "署名用電子証明書は失効されています（cessationOfOperation）。",
     "The signature certificate is revoked (cessationOfOperation)."),
    ("R4_3_on_hold", "sign", "hold", "certificateHold", False, "R4.3",
     "署名用電子証明書は一時保留されています（certificateHold）。",
     "The signature certificate is on hold (certificateHold)."),
    ("R4_3_revoked_without_a_reason", "sign", "revoked", None, False, "R4.3",
     "署名用電子証明書は失効されています（理由なし）。",
     "The signature certificate is revoked (no reason given)."),
    ("R4_3_reason_outside_jpki_is_shown", "auth", "revoked", "privilegeWithdrawn", False,
     "R4.3", "利用者証明用電子証明書は失効されています（privilegeWithdrawn）。",
     "The user authentication certificate is revoked (privilegeWithdrawn)."),
    ("R4_2_auth_is_never_an_R4_1_revocation", "auth", "revoked", "affiliationChanged", False,
     "R4.3", "利用者証明用電子証明書は失効されています（affiliationChanged）。",
     "The user authentication certificate is revoked (affiliationChanged)."),
]


@pytest.mark.parametrize("case", STATUS_USE, ids=[c[0] for c in STATUS_USE])
def test_R4_1_R4_3_R3_7_certificate_status_decision(case):
    _, kind, status, reason, ok, rule, ja, en = case
    d = certificate_status_decision(kind, status, reason)
    assert (d.allowed, d.rule, d.message_ja, d.message_en) == (ok, rule, ja, en)


def test_R4_1_status_decision_takes_reason_values():
    d = certificate_status_decision(CertKind.SIGN, CertStatus.REVOKED,
                                    Reason.AFFILIATION_CHANGED)
    assert d.rule == "R4.1"
    with pytest.raises(ValueError):
        certificate_status_decision("sign", "unknown", None)
