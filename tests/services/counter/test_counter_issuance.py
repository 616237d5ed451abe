"""New issuance at the counter (R5.1, R5.10, R5.11, R1.5, R5.6, R2, R5.2, R5.3, R5.7, R5.8)."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from openjpki.pki import read_sign_facts
from openjpki.rules import JST, Refused
from openjpki.rules.documents import AuthorityProof, PhotoId, PresentedId
from openjpki.services.counter import (
    ApplicantInput, Completed, PinEntry, issue_certificates, issue_new_card, show_resident,
)
from openjpki.store.counter_models import Application, Card, CardCertificate

from .kit import PINS, T0, at, card_certificate, look, person

LICENCE = PresentedId(PhotoId.DRIVERS_LICENCE, valid_until=date(2030, 1, 1))


def parent_for(ctx, child_id: int, *, heads_household: bool = True, proofs=()):
    """A parent on the register, heading the child's household (or not), as legal
    representative."""
    from openjpki.store.residents import Resident

    with ctx.store.transaction() as s:
        household = s.get(Resident, child_id).household_id
    pid = person(ctx, name="山田　花子", birth=date(1985, 2, 2), sex="female",
                 household_id=household if heads_household else None, relationship="head")
    return ApplicantInput(type="legal_representative", ids=(LICENCE,), representative_id=pid,
                          authority_proofs=proofs)


def test_R5_10_new_card_carries_both_certificates_made_on_the_card(ctx):
    rid = person(ctx)
    out = issue_new_card(ctx, rid, PINS, now=T0)
    assert isinstance(out, Completed), out
    assert {c.kind for c in out.issued} == {"sign", "auth"}
    assert out.rule == "R5.3"
    for c in out.issued:
        seen = look(ctx, c.serial)
        assert (seen.status, seen.ocsp) == ("good", "good")
        # R2.1: the 5th birthday after the day of issue (the card lasts longer)
        assert c.not_after == date(2029, 5, 15) and c.expiry_rule == "R2.1"
    vid = out.details["virtual_card_id"]
    status = ctx.cards.status(vid)
    assert status["keys"] == {"auth": True, "sign": True}
    assert status["certificates"] == {"auth": True, "sign": True}
    assert status["ca_certificates"] == {"auth": True, "sign": True}
    # The certificate on the card certifies the key made on the card, with the holder's facts.
    sign = card_certificate(ctx, vid, "sign")
    facts = read_sign_facts(sign)
    assert (facts.name, facts.address, facts.birth_date, facts.sex) == (
        "山田　太郎", "埼玉県川口市青木二丁目1番1号", date(1980, 5, 15), 1)
    auth = card_certificate(ctx, vid, "auth")
    assert format(auth.serial_number, "x") in {c.serial for c in out.issued}
    with ctx.store.transaction() as s:
        card = s.execute(select(Card)).scalar_one()
        assert card.expires_on == date(2034, 5, 15)  # R2.5: 10th birthday after issue
        assert not hasattr(card, "card_pin_hash")  # R1.6: the card keeps its PIN
        assert status["pins"]["card"]["set"] and status["pins"]["card"]["tries_left"] == 3
        assert b"1234" not in (card.issuing_secret_enc or b"")
        app = s.execute(select(Application)).scalar_one()
        assert (app.state, app.procedure, app.applicant_type) == (
            "completed", "new_issuance", "holder")
    shown = show_resident(ctx, rid)["cards"][0]
    assert shown["state"] == "active" and len(shown["certificates"]) == 2
    assert "issuing_secret" not in str(shown) and "pin_hash" not in str(shown)


def test_R5_10_declined_certificate_left_out_then_issued_later(ctx):
    rid = person(ctx)
    out = issue_new_card(ctx, rid, PINS, now=T0, declined=["sign"])
    assert isinstance(out, Completed)
    assert [c.kind for c in out.issued] == ["auth"]
    vid = out.details["virtual_card_id"]
    assert ctx.cards.status(vid)["keys"] == {"auth": True, "sign": False}
    later = issue_certificates(ctx, rid, PinEntry(card="1234", sign="LATER9"),
                               now=at(date(2025, 6, 2)), kinds=["sign"])
    assert isinstance(later, Completed), later
    assert [c.kind for c in later.issued] == ["sign"]
    # R2.2: SIGN expires no later than AUTH on the same card (same limit here: R2.1).
    assert later.issued[0].not_after == out.issued[0].not_after
    assert look(ctx, later.issued[0].serial).ocsp == "good"
    assert card_certificate(ctx, vid, "sign", pin="LATER9")
    with ctx.store.transaction() as s:
        assert s.execute(select(Card.sign_declined)).scalar_one() is False


def test_R3_7_new_issuance_refused_while_both_are_live(ctx):
    rid = person(ctx)
    issue_new_card(ctx, rid, PINS, now=T0)
    out = issue_certificates(ctx, rid, PINS, now=at(date(2025, 6, 2)))
    assert isinstance(out, Refused) and out.rule == "R3.7"


def test_R1_5_under_15_new_card_has_auth_only(ctx):
    child = person(ctx, name="山田　一郎", birth=date(2013, 8, 1), relationship="child")
    rep = parent_for(ctx, child)
    out = issue_new_card(ctx, child, PINS, now=T0, applicant=rep)
    assert isinstance(out, Completed), out
    assert [c.kind for c in out.issued] == ["auth"]
    # R2.5: a card made before 18 lasts to the 5th birthday.
    assert out.details["card_expires_on"] == "2029-08-01"


def test_R1_5_under_15_sign_refused(ctx):
    child = person(ctx, name="山田　一郎", birth=date(2013, 8, 1), relationship="child")
    rep = parent_for(ctx, child)
    out = issue_new_card(ctx, child, PINS, now=T0, applicant=rep, kinds=["sign", "auth"])
    assert isinstance(out, Refused) and out.rule == "R1.5"
    with ctx.store.transaction() as s:
        assert s.execute(select(func.count()).select_from(Card)).scalar_one() == 0
        assert s.execute(select(Application.state, Application.refusal_rule)).one() == (
            "refused", "R1.5")
    assert ctx.cards.list() == []


def test_R1_5_adult_ward_sign_refused(ctx):
    ward = person(ctx, name="川口　三郎", birth=date(1950, 1, 1), adult_ward=True)
    rep = ApplicantInput(type="legal_representative", ids=(LICENCE,),
                         authority_proofs=(AuthorityProof.GUARDIANSHIP_REGISTRY_CERTIFICATE,))
    out = issue_new_card(ctx, ward, PINS, now=T0, applicant=rep, kinds=["sign"])
    assert isinstance(out, Refused) and out.rule == "R1.5"


@pytest.mark.parametrize("holder_present, outcome, rule", [
    (False, "refused", "R5.6"),
    (True, "completed", "R5.3"),
])
def test_R5_6_sign_exception_needs_holder_with_representative(ctx, holder_present, outcome,
                                                              rule):
    child = person(ctx, name="山田　一郎", birth=date(2013, 8, 1), relationship="child")
    rep = parent_for(ctx, child)
    rep = ApplicantInput(type=rep.type, ids=rep.ids, representative_id=rep.representative_id,
                         holder_present=holder_present)
    out = issue_new_card(ctx, child, PINS, now=T0, applicant=rep, kinds=["sign", "auth"],
                         sign_exception=True)
    assert out.outcome == outcome and out.rule == rule
    if outcome == "completed":
        assert {c.kind for c in out.issued} == {"sign", "auth"}
    else:
        assert [str(m) for m in out.missing] == ["holder_in_person"]


def test_R5_11_sign_once_15(ctx):
    """A card made at 14 has no SIGN; from the 15th birthday SIGN can be asked for."""
    teen = person(ctx, name="山田　一郎", birth=date(2010, 6, 2), relationship="child")
    rep = parent_for(ctx, teen)
    first = issue_new_card(ctx, teen, PINS, now=T0, applicant=rep)
    assert [c.kind for c in first.issued] == ["auth"]
    early = issue_certificates(ctx, teen, PINS, now=at(date(2025, 5, 30)), kinds=["sign"],
                               applicant=rep)
    assert isinstance(early, Refused) and early.rule == "R1.5"
    # On the 15th birthday the holder may ask alone (R5.11: age on the day of application).
    out = issue_certificates(ctx, teen, PINS, now=at(date(2025, 6, 2)), kinds=["sign"])
    assert isinstance(out, Completed), out
    assert [c.kind for c in out.issued] == ["sign"]


def test_R5_3_legal_representative_needs_proof_of_authority(ctx):
    child = person(ctx, name="山田　一郎", birth=date(2013, 8, 1), relationship="child")
    outsider = parent_for(ctx, child, heads_household=False)
    out = issue_new_card(ctx, child, PINS, now=T0, applicant=outsider)
    assert isinstance(out, Refused) and out.rule == "R5.3"
    assert [str(m) for m in out.missing] == ["family_register_certificate"]
    proven = ApplicantInput(type="legal_representative", ids=(LICENCE,),
                            authority_proofs=("family_register_certificate",))
    out = issue_new_card(ctx, child, PINS, now=T0, applicant=proven)
    assert isinstance(out, Completed)


def test_R5_7_expired_photo_id_refused(ctx):
    child = person(ctx, name="山田　一郎", birth=date(2013, 8, 1), relationship="child")
    rep = parent_for(ctx, child)
    expired = ApplicantInput(type="legal_representative", representative_id=rep.representative_id,
                             ids=(PresentedId(PhotoId.PASSPORT, valid_until=date(2024, 1, 1)),))
    out = issue_new_card(ctx, child, PINS, now=T0, applicant=expired)
    assert isinstance(out, Refused) and out.rule == "R5.7"


@pytest.mark.parametrize("pins, rule", [
    (PinEntry(card="1234", sign="abc123", auth="5678"), "R1.3"),   # lowercase
    (PinEntry(card="1234", sign="ABC123", auth="56789"), "R1.3"),  # 5 digits
    (PinEntry(card="12a4", sign="ABC123", auth="5678"), "R1.6"),
    (PinEntry(sign="ABC123", auth="5678"), "R1.6"),                # no card PIN
])
def test_R1_3_R1_6_pin_forms_refused_before_any_card_work(ctx, pins, rule):
    rid = person(ctx)
    out = issue_new_card(ctx, rid, pins, now=T0)
    assert isinstance(out, Refused) and out.rule == rule
    assert ctx.cards.list() == []
    with ctx.store.transaction() as s:
        assert s.execute(select(func.count()).select_from(CardCertificate)).scalar_one() == 0
    assert ctx.authority.list() == []


@pytest.mark.parametrize("when, opens_at", [
    (datetime(2025, 4, 1, 17, 30, tzinfo=JST), datetime(2025, 4, 2, 8, 30, tzinfo=JST)),
    (datetime(2025, 4, 5, 10, 0, tzinfo=JST), datetime(2025, 4, 7, 8, 30, tzinfo=JST)),  # Sat
    (datetime(2025, 12, 30, 10, 0, tzinfo=JST), datetime(2026, 1, 5, 8, 30, tzinfo=JST)),
])
def test_R5_8_outside_hours_refused_with_next_opening(ctx, when, opens_at):
    rid = person(ctx)
    out = issue_new_card(ctx, rid, PINS, now=when)
    assert isinstance(out, Refused) and out.rule == "R5.8"
    assert out.opens_at == opens_at
    assert ctx.cards.list() == []


def test_R5_8_station_centre_open_on_saturday(ctx):
    rid = person(ctx)
    out = issue_new_card(ctx, rid, PINS, now=datetime(2025, 4, 5, 10, 0, tzinfo=JST),
                         office="station-centre")
    assert isinstance(out, Completed)


def test_R2_3_foreign_resident_certificates_end_with_the_stay(ctx):
    rid = person(ctx, name="スミス　ジョン", birth=date(1990, 3, 3), foreign_resident=True,
                 stay_until=date(2027, 3, 31), alias="山田　次郎")
    out = issue_new_card(ctx, rid, PINS, now=T0)
    assert {(c.kind, c.not_after, c.expiry_rule) for c in out.issued} == {
        ("sign", date(2027, 3, 31), "R2.2"), ("auth", date(2027, 3, 31), "R2.3")}
    facts = read_sign_facts(card_certificate(ctx, out.details["virtual_card_id"], "sign"))
    assert facts.name == "スミス　ジョン（通称　山田　次郎）"  # R1.2: 通称 carried


def test_R5_2_not_on_register_refused(ctx):
    rid = person(ctx)
    from openjpki.store.residents import Resident

    with ctx.store.transaction() as s:
        s.get(Resident, rid).on_register = False
    out = issue_new_card(ctx, rid, PINS, now=T0)
    assert isinstance(out, Refused) and out.rule == "R5.2"


def test_R4_4_a_new_card_voids_the_old_one_and_its_certificates(ctx):
    from .kit import holder_with_card, serials

    rid, first = holder_with_card(ctx)
    out = issue_new_card(ctx, rid, PINS, now=at(date(2025, 6, 2)))
    assert isinstance(out, Completed), out
    assert {(e.serial, e.reason, e.rule) for e in out.ended} == {
        (serial, "cessationOfOperation", "R4.4") for serial in serials(first).values()}
    with ctx.store.transaction() as s:
        states = dict(s.execute(select(Card.card_number, Card.state)).all())
    assert states == {first.card_number: "voided", out.card_number: "active"}
    for c in out.issued:
        assert look(ctx, c.serial).ocsp == "good"


def test_naive_moment_is_bad_input(ctx):
    from openjpki.services.counter import InputError

    rid = person(ctx)
    with pytest.raises(InputError, match="timezone-aware"):
        issue_new_card(ctx, rid, PINS, now=datetime(2025, 4, 1, 10, 0))
