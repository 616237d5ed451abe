"""R1.5, R1.6, R4.2, R5.1–R5.11: who may do what at the counter, and what they bring."""

from dataclasses import replace
from datetime import date

import pytest

from openjpki.rules import (
    Allowed, Applicant, ApplicantType as T, Application, AuthorityProof, CertKind, Holder,
    InquiryForm, PhotoId, PinKind, PresentedId, Procedure as P, Refused, Requirement as Q,
    SecondVisit, central_system_down, certificates_on_new_card, inquiry_reference_decision,
    photo_id_problem, pins_needed, procedure_decision, sign_eligible,
)

ON = date(2025, 6, 2)  # a Monday
ADULT = Holder(birth=date(1980, 5, 10))
CHILD = Holder(birth=date(2013, 1, 1))          # 12
TEEN = Holder(birth=date(2009, 1, 1))           # 16
WARD = Holder(birth=date(1970, 1, 1), adult_ward=True)
LICENCE = PresentedId(PhotoId.DRIVERS_LICENCE, valid_until=date(2027, 1, 1))
FAMILY = frozenset({AuthorityProof.FAMILY_REGISTER_CERTIFICATE})
GUARD = frozenset({AuthorityProof.GUARDIANSHIP_REGISTRY_CERTIFICATE})
REP = Applicant(T.LEGAL_REPRESENTATIVE, ids=(LICENCE,), authority_proofs=FAMILY)
PROXY = Applicant(T.VOLUNTARY_PROXY, ids=(LICENCE,))
BOTH = frozenset({CertKind.SIGN, CertKind.AUTH})
SIGN = frozenset({CertKind.SIGN})
AUTH = frozenset({CertKind.AUTH})


def app(proc=P.NEW_ISSUANCE, kinds=BOTH, holder=ADULT, applicant=Applicant(), **kw):
    return Application(proc, kinds, kw.pop("on", ON), holder, applicant, **kw)


CASES = [
    # id, application, outcome, rule, missing
    ("R5_3_holder_with_card_allowed", app(), "allowed", "R5.3", ()),
    ("R5_1_holder_renewal", app(P.RENEWAL), "allowed", "R5.3", ()),
    ("R5_1_holder_pin_change", app(P.PIN_CHANGE, AUTH), "allowed", "R5.3", ()),
    ("R5_1_holder_pin_reset", app(P.PIN_RESET, SIGN), "allowed", "R5.3", ()),
    ("R5_1_holder_reissue_after_change", app(P.REISSUE_AFTER_CHANGE, SIGN), "allowed", "R5.3", ()),
    ("R5_3_holder_without_card_refused", app(P.RENEWAL, card_presented=False), "refused", "R5.3", (Q.HOLDER_CARD,)),
    # R5.2
    ("R5_2_not_on_register", app(holder=replace(ADULT, on_register=False)), "refused", "R5.2", ()),
    ("R5_2_card_expired", app(holder=replace(ADULT, card_expiry=date(2025, 6, 1))), "refused", "R5.2", (Q.VALID_CARD,)),
    ("R5_2_card_expiring_today_is_valid", app(holder=replace(ADULT, card_expiry=ON)), "allowed", "R5.3", ()),
    ("R5_2_card_voided", app(holder=replace(ADULT, card_valid=False)), "refused", "R5.2", (Q.VALID_CARD,)),
    ("R5_2_face_out_of_date", app(P.RENEWAL, holder=replace(ADULT, card_face_up_to_date=False)), "refused", "R5.2", (Q.CHANGE_OF_PARTICULARS,)),
    ("R5_2_stay_ended", app(holder=replace(ADULT, foreign_resident=True, stay_until=date(2025, 6, 1))), "refused", "R5.2", ()),
    ("R5_2_revocation_without_card_with_photo_id", app(P.REVOCATION, SIGN, holder=replace(ADULT, card_face_up_to_date=False), applicant=Applicant(ids=(LICENCE,)), card_presented=False), "allowed", "R5.3", ()),
    ("R5_7_hold_without_card_needs_photo_id", app(P.HOLD, BOTH, card_presented=False), "refused", "R5.7", (Q.HOLDER_PHOTO_ID,)),
    ("R5_2_revocation_still_needs_register", app(P.REVOCATION, holder=replace(ADULT, on_register=False)), "refused", "R5.2", ()),
    # R4.2
    ("R4_2_no_auth_reissue_after_change", app(P.REISSUE_AFTER_CHANGE, BOTH), "refused", "R4.2", ()),
    # R1.5, R5.6, R5.11
    ("R1_5_child_alone_refused", app(kinds=AUTH, holder=CHILD), "refused", "R1.5", (Q.LEGAL_REPRESENTATIVE,)),
    ("R1_5_child_by_legal_representative_auth", app(kinds=AUTH, holder=CHILD, applicant=REP), "allowed", "R5.3", ()),
    ("R1_5_child_sign_refused_by_default", app(kinds=BOTH, holder=CHILD, applicant=REP), "refused", "R1.5", ()),
    ("R1_5_ward_sign_renewal_refused_by_default", app(P.RENEWAL, SIGN, holder=WARD, applicant=replace(REP, authority_proofs=GUARD)), "refused", "R1.5", ()),
    ("R1_5_child_by_voluntary_proxy_refused", app(kinds=AUTH, holder=CHILD, applicant=PROXY), "refused", "R1.5", (Q.LEGAL_REPRESENTATIVE,)),
    ("R1_5_child_sign_pin_reset_is_not_issuance", app(P.PIN_RESET, SIGN, holder=CHILD, applicant=REP), "allowed", "R5.3", ()),
    ("R5_6_sign_exception_needs_holder_in_person", app(kinds=SIGN, holder=CHILD, applicant=REP, sign_exception=True), "refused", "R5.6", (Q.HOLDER_IN_PERSON,)),
    ("R5_6_sign_exception_holder_alone_needs_representative", app(kinds=SIGN, holder=CHILD, sign_exception=True), "refused", "R5.6", (Q.LEGAL_REPRESENTATIVE,)),
    ("R5_6_sign_exception_both_present_allowed", app(kinds=SIGN, holder=CHILD, applicant=replace(REP, holder_present=True), sign_exception=True), "allowed", "R5.3", ()),
    ("R5_6_ward_sign_exception_both_present_allowed", app(P.RENEWAL, SIGN, holder=WARD, applicant=replace(REP, authority_proofs=GUARD, holder_present=True), sign_exception=True), "allowed", "R5.3", ()),
    ("R5_11_fifteenth_birthday_sign_allowed", app(kinds=SIGN, holder=Holder(birth=date(2010, 6, 2))), "allowed", "R5.3", ()),
    ("R5_11_day_before_fifteenth_birthday_refused", app(kinds=SIGN, holder=Holder(birth=date(2010, 6, 3))), "refused", "R1.5", ()),
    ("R1_5_teen_applies_alone", app(kinds=BOTH, holder=TEEN), "allowed", "R5.3", ()),
    # R5.3 legal representative documents
    ("R5_3_representative_parent_heads_household_no_family_register", app(kinds=AUTH, holder=CHILD, applicant=replace(REP, authority_proofs=frozenset(), parent_heads_holder_household=True)), "allowed", "R5.3", ()),
    ("R5_3_representative_honseki_here_no_family_register", app(kinds=AUTH, holder=replace(CHILD, honseki_here=True), applicant=replace(REP, authority_proofs=frozenset())), "allowed", "R5.3", ()),
    ("R5_3_representative_missing_id_and_family_register", app(kinds=AUTH, holder=CHILD, applicant=Applicant(T.LEGAL_REPRESENTATIVE)), "refused", "R5.3", (Q.APPLICANT_PHOTO_ID, Q.FAMILY_REGISTER_CERTIFICATE)),
    ("R5_3_ward_needs_guardianship_certificate", app(kinds=AUTH, holder=WARD, applicant=replace(REP, parent_heads_holder_household=True)), "refused", "R5.3", (Q.GUARDIANSHIP_REGISTRY_CERTIFICATE,)),
    ("R5_3_ward_with_guardianship_certificate", app(kinds=AUTH, holder=WARD, applicant=replace(REP, authority_proofs=GUARD)), "allowed", "R5.3", ()),
    ("R5_3_no_legal_representative_for_an_adult", app(kinds=AUTH, applicant=REP), "refused", "R5.3", ()),
    ("R5_3_teen_by_legal_representative", app(kinds=BOTH, holder=TEEN, applicant=REP), "allowed", "R5.3", ()),
    ("R5_7_representative_with_expired_id", app(kinds=AUTH, holder=CHILD, applicant=replace(REP, ids=(replace(LICENCE, valid_until=date(2025, 6, 1)),))), "refused", "R5.7", (Q.APPLICANT_PHOTO_ID,)),
    # R5.4 voluntary proxy
    ("R5_4_proxy_first_visit_second_visit", app(applicant=PROXY), "second_visit", "R5.4", (Q.HOLDER_CARD, Q.APPLICANT_PHOTO_ID, Q.INQUIRY_FORM)),
    ("R5_4_proxy_second_visit_allowed", app(applicant=replace(PROXY, inquiry_form=InquiryForm())), "allowed", "R5.4", ()),
    ("R5_4_form_incomplete_refused", app(applicant=replace(PROXY, inquiry_form=InquiryForm(complete=False))), "refused", "R5.4", (Q.INQUIRY_FORM,)),
    ("R5_4_form_not_sealed_refused", app(applicant=replace(PROXY, inquiry_form=InquiryForm(sealed=False))), "refused", "R5.4", (Q.INQUIRY_FORM,)),
    ("R5_4_pins_do_not_match_inquiry_restarts", app(applicant=replace(PROXY, inquiry_form=InquiryForm(pins_match=False))), "second_visit", "R5.4", (Q.HOLDER_CARD, Q.APPLICANT_PHOTO_ID, Q.INQUIRY_FORM)),
    ("R5_4_proxy_without_id", app(applicant=Applicant(T.VOLUNTARY_PROXY, inquiry_form=InquiryForm())), "refused", "R5.4", (Q.APPLICANT_PHOTO_ID,)),
    ("R5_4_proxy_pin_reset_two_visits", app(P.PIN_RESET, AUTH, applicant=PROXY), "second_visit", "R5.4", (Q.HOLDER_CARD, Q.APPLICANT_PHOTO_ID, Q.INQUIRY_FORM)),
    ("R5_4_proxy_hold_without_card_needs_no_card", app(P.HOLD, BOTH, applicant=PROXY, card_presented=False), "second_visit", "R5.4", (Q.APPLICANT_PHOTO_ID, Q.INQUIRY_FORM)),
    # R5.5
    ("R5_5_a_renewal_with_expiry_notice_form_one_visit", app(P.RENEWAL, applicant=replace(PROXY, inquiry_form=InquiryForm(from_expiry_notice=True))), "allowed", "R5.5", ()),
    ("R5_5_a_expiry_notice_form_pins_mismatch", app(P.RENEWAL, applicant=replace(PROXY, inquiry_form=InquiryForm(from_expiry_notice=True, pins_match=False))), "second_visit", "R5.4", (Q.HOLDER_CARD, Q.APPLICANT_PHOTO_ID, Q.INQUIRY_FORM)),
    ("R5_5_a_expiry_notice_form_not_sealed", app(P.RENEWAL, applicant=replace(PROXY, inquiry_form=InquiryForm(from_expiry_notice=True, sealed=False))), "refused", "R5.4", (Q.INQUIRY_FORM,)),
    ("R5_5_a_expiry_notice_form_is_not_for_new_issuance", app(P.NEW_ISSUANCE, applicant=replace(PROXY, inquiry_form=InquiryForm(from_expiry_notice=True))), "second_visit", "R5.4", (Q.HOLDER_CARD, Q.APPLICANT_PHOTO_ID, Q.INQUIRY_FORM)),
    ("R5_5_b_same_household_move_same_day_one_visit", app(P.REISSUE_AFTER_CHANGE, SIGN, applicant=replace(PROXY, same_household=True, move_filed_on=ON, letter_of_attorney=True)), "allowed", "R5.5", ()),
    ("R5_5_b_needs_letter_of_attorney", app(P.NEW_ISSUANCE, applicant=replace(PROXY, same_household=True, move_filed_on=ON)), "refused", "R5.5", (Q.LETTER_OF_ATTORNEY,)),
    ("R5_5_b_move_filed_earlier_two_visits", app(P.REISSUE_AFTER_CHANGE, SIGN, applicant=replace(PROXY, same_household=True, move_filed_on=date(2025, 5, 30), letter_of_attorney=True)), "second_visit", "R5.4", (Q.HOLDER_CARD, Q.APPLICANT_PHOTO_ID, Q.INQUIRY_FORM)),
    ("R5_5_b_other_household_two_visits", app(P.NEW_ISSUANCE, applicant=replace(PROXY, move_filed_on=ON, letter_of_attorney=True)), "second_visit", "R5.4", (Q.HOLDER_CARD, Q.APPLICANT_PHOTO_ID, Q.INQUIRY_FORM)),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_R5_procedure_decision_table(case):
    _, application, outcome, rule, missing = case
    d = procedure_decision(application)
    assert (d.outcome, d.rule) == (outcome, rule), d
    assert d.message_ja and d.message_en
    if isinstance(d, Refused):
        assert d.missing == missing
    elif isinstance(d, SecondVisit):
        assert d.needs == missing and d.mail_inquiry_form
    d.to_json()


def test_R5_4_second_visit_json_names_items_in_japanese():
    d = procedure_decision(app(applicant=PROXY)).to_dict()
    assert d["outcome"] == "second_visit"
    assert {"item": "inquiry_form", "ja": Q.INQUIRY_FORM.ja, "en": Q.INQUIRY_FORM.en} in d["needs"]


ID_CASES = [
    ("R5_7_valid_licence", LICENCE, True),
    ("R5_7_no_expiry_date_passport", PresentedId(PhotoId.PASSPORT), True),
    ("R5_7_expired", replace(LICENCE, valid_until=date(2025, 6, 1)), False),
    ("R5_7_valid_until_today", replace(LICENCE, valid_until=ON), True),
    ("R5_7_copy", replace(LICENCE, original=False), False),
    ("R5_7_old_address", replace(LICENCE, shows_current_name_address=False), False),
    ("R5_7_juki_card_without_photo", PresentedId(PhotoId.JUKI_CARD, has_photo=False), False),
    ("R5_7_driving_history_before_2012_04_01", PresentedId(PhotoId.DRIVING_HISTORY_CERTIFICATE, issued_on=date(2012, 3, 31)), False),
    ("R5_7_driving_history_from_2012_04_01", PresentedId(PhotoId.DRIVING_HISTORY_CERTIFICATE, issued_on=date(2012, 4, 1)), True),
    ("R5_7_unlisted_document", PresentedId("健康保険証"), False),
    ("R5_7_listed_by_code", PresentedId("residence_card"), True),
]


@pytest.mark.parametrize("case", ID_CASES, ids=[c[0] for c in ID_CASES])
def test_R5_7_photo_id(case):
    _, doc, ok = case
    assert (photo_id_problem(doc, ON) is None) is ok
    d = procedure_decision(app(applicant=Applicant(T.VOLUNTARY_PROXY, ids=(doc,))))
    assert (d.outcome == "second_visit") is ok
    if not ok:
        assert d.rule == "R5.7" and d.missing == (Q.APPLICANT_PHOTO_ID,)


@pytest.mark.parametrize("kind", list(PhotoId), ids=[k.value for k in PhotoId])
def test_R5_7_every_listed_id_is_accepted(kind):
    doc = PresentedId(kind, issued_on=date(2020, 1, 1), valid_until=date(2030, 1, 1))
    assert photo_id_problem(doc, ON) is None
    assert kind.ja


def test_R5_7_one_good_id_among_bad_suffices():
    a = replace(PROXY, ids=(PresentedId("学生証"), LICENCE))
    assert procedure_decision(app(applicant=a)).outcome == "second_visit"


@pytest.mark.parametrize("birth,ward,ok,rule", [
    (date(2010, 6, 2), False, True, "R5.11"), (date(2010, 6, 3), False, False, "R1.5"),
    (date(1980, 1, 1), True, False, "R1.5"), (date(2010, 2, 28), False, True, "R5.11"),
])
def test_R1_5_R5_11_sign_eligible_on_the_day(birth, ward, ok, rule):
    d = sign_eligible(birth, ON, ward)
    assert (d.allowed, d.rule) == (ok, rule)


@pytest.mark.parametrize("birth,declined,ward,expected", [
    (date(1980, 1, 1), (), False, {"sign", "auth"}),
    (date(1980, 1, 1), ("sign",), False, {"auth"}),
    (date(1980, 1, 1), ("sign", "auth"), False, set()),
    (date(2013, 1, 1), (), False, {"auth"}),
    (date(1980, 1, 1), (), True, {"auth"}),
])
def test_R5_10_certificates_on_new_card(birth, declined, ward, expected):
    got = certificates_on_new_card(birth, ON, declined, ward)
    assert {k.value for k in got} == expected


@pytest.mark.parametrize("proc,kinds,expected", [
    (P.NEW_ISSUANCE, BOTH, (PinKind.CARD, PinKind.SIGN, PinKind.AUTH)),
    (P.RENEWAL, AUTH, (PinKind.CARD, PinKind.AUTH)),
    (P.PIN_RESET, SIGN, (PinKind.CARD, PinKind.SIGN)),
    (P.PIN_CHANGE, AUTH, (PinKind.AUTH,)),
    (P.REVOCATION, BOTH, ()),
    (P.HOLD, SIGN, ()),
])
def test_R1_6_card_pin_asked_for_issuance_renewal_and_reset(proc, kinds, expected):
    assert pins_needed(proc, kinds) == expected


def test_R5_9_central_system_down_keeps_card_and_mails_it_back():
    d = central_system_down()
    assert isinstance(d, Allowed) and d.rule == "R5.9" and "本人限定郵便" in d.message_ja


def test_R5_1_every_procedure_has_names():
    assert {p.value for p in P} == {"new_issuance", "renewal", "reissue_after_change",
                                    "pin_change", "pin_reset", "revocation", "hold"}
    assert all(p.ja and p.en for p in P)


def test_application_rejects_no_kind_and_impossible_day():
    with pytest.raises(ValueError):
        Application(P.RENEWAL, frozenset(), ON, ADULT)
    with pytest.raises(ValueError):
        Application(P.RENEWAL, SIGN, date(1970, 1, 1), ADULT)
    assert Application("renewal", ["sign"], ON, ADULT).kinds == SIGN


INQUIRY_REFERENCES = [
    # id, live, for this holder, allowed
    ("R5_4_live_reference_of_the_holder", True, True, True),
    ("R5_4_voided_or_unknown_reference", False, True, False),
    ("R5_4_reference_of_another_holder", True, False, False),
    ("R5_4_neither", False, False, False),
]


@pytest.mark.parametrize("case", INQUIRY_REFERENCES, ids=[c[0] for c in INQUIRY_REFERENCES])
def test_R5_4_inquiry_reference(case):
    _, live, mine, ok = case
    d = inquiry_reference_decision(live, mine)
    assert (d.allowed, d.rule) == (ok, "R5.4")
    if not ok:
        assert d.message_ja == "この照会書は無効です（再照会により無効になったか、照会番号が違います）。"
        assert d.message_en == ("This inquiry form is not valid (voided by a new inquiry, or an "
                                "unknown reference).")
    else:
        assert d.message_ja and d.message_en
