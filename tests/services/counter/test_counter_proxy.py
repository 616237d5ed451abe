"""The voluntary proxy (任意代理人): two visits with the inquiry form (R5.4), and the
one-visit exceptions (R5.5)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from openjpki.rules import Refused
from openjpki.rules.documents import PhotoId, PresentedId
from openjpki.services.counter import (
    ApplicantInput, Completed, InquiryAnswer, InquiryMailed, PinEntry, issue_certificates,
    reissue_sign, renew,
)
from openjpki.services.register import change_card_particulars, move
from openjpki.store.counter_models import Application, Letter, Visit

from .kit import PINS, at, holder_with_card, look, person, serials

LICENCE = PresentedId(PhotoId.DRIVERS_LICENCE, valid_until=date(2030, 1, 1))
PROXY = ApplicantInput(type="voluntary_proxy", ids=(LICENCE,))
VISIT1 = at(date(2029, 3, 1))
VISIT2 = at(date(2029, 3, 8))


def with_form(reference, **kw):
    return ApplicantInput(type="voluntary_proxy", ids=(LICENCE,),
                          inquiry=InquiryAnswer(reference=reference, **kw))


def first_visit(ctx):
    rid, first = holder_with_card(ctx)
    out = renew(ctx, rid, PINS, now=VISIT1, applicant=PROXY)
    assert isinstance(out, InquiryMailed), out
    return rid, first, out


def test_R5_4_proxy_first_visit_mails_the_inquiry_form(ctx):
    rid, first, out = first_visit(ctx)
    assert out.rule == "R5.4" and not out.restarted
    assert [n["item"] for n in out.to_dict()["needs"]] == [
        "holder_card", "applicant_photo_id", "inquiry_form"]
    with ctx.store.transaction() as s:
        letter = s.execute(select(Letter)).scalar_one()
        assert (letter.kind, letter.state, letter.reference) == (
            "inquiry_form", "sent", out.reference)
        assert letter.payload["delivery"] == "転送不要の簡易書留"
        assert letter.payload["to_address"] == "埼玉県川口市青木二丁目1番1号"
        app = s.get(Application, out.application_id)
        assert (app.state, app.applicant_type) == ("inquiry_mailed", "voluntary_proxy")
    for serial in serials(first).values():  # nothing issued or revoked on visit 1
        assert look(ctx, serial, VISIT1).ocsp == "good"


def test_R5_4_proxy_second_visit_with_the_sealed_answer_completes(ctx):
    rid, first, mailed = first_visit(ctx)
    out = renew(ctx, rid, PINS, now=VISIT2, applicant=with_form(mailed.reference))
    assert isinstance(out, Completed), out
    assert out.application_id == mailed.application_id and out.rule == "R5.4"
    assert {e.reason for e in out.ended} == {"superseded"}
    with ctx.store.transaction() as s:
        assert s.execute(select(Letter.state)).scalar_one() == "answered"
        visits = s.execute(select(Visit.number, Visit.outcome, Visit.rule).where(
            Visit.application_id == mailed.application_id).order_by(Visit.id)).all()
        assert visits == [(1, "inquiry_mailed", "R5.4"), (2, "completed", "R5.4")]
    # The form is used up: bringing it again is refused.
    again = renew(ctx, rid, PINS, now=VISIT2, applicant=with_form(mailed.reference))
    assert isinstance(again, Refused) and again.rule == "R5.4"


@pytest.mark.parametrize("form", [dict(complete=False), dict(sealed=False)])
def test_R5_4_incomplete_or_unsealed_form_refused(ctx, form):
    rid, first, mailed = first_visit(ctx)
    out = renew(ctx, rid, PinEntry(card="0000"), now=VISIT2,
                applicant=with_form(mailed.reference, **form))
    assert isinstance(out, Refused) and out.rule == "R5.4"
    assert [str(m) for m in out.missing] == ["inquiry_form"]
    with ctx.store.transaction() as s:
        # the form's PINs were not tried, the inquiry still stands
        assert s.execute(select(Letter.state)).scalar_one() == "sent"
        assert s.get(Application, mailed.application_id).state == "inquiry_mailed"
        from openjpki.store.counter_models import Card

        assert s.execute(select(Card.card_pin_failures)).scalar_one() == 0
    for serial in serials(first).values():
        assert look(ctx, serial, VISIT2).ocsp == "good"


def test_R5_4_proxy_pin_mismatch_restarts_inquiry(ctx):
    rid, first, mailed = first_visit(ctx)
    wrong = PinEntry(card="9999", sign="ABC123", auth="5678")
    out = renew(ctx, rid, wrong, now=VISIT2, applicant=with_form(mailed.reference))
    assert isinstance(out, InquiryMailed), out
    assert out.restarted and out.rule == "R5.4"
    assert out.voided_reference == mailed.reference and out.reference != mailed.reference
    assert out.application_id == mailed.application_id
    with ctx.store.transaction() as s:
        states = dict(s.execute(select(Letter.reference, Letter.state)).all())
        assert states == {mailed.reference: "void", out.reference: "sent"}
        visit = s.execute(select(Visit).where(Visit.application_id == out.application_id)
                          .order_by(Visit.id.desc())).scalars().first()
        assert (visit.outcome, visit.rule) == ("pin_mismatch", "R5.4")
        assert visit.details["form"] == {"reference": mailed.reference, "complete": True,
                                         "sealed": True, "pins_match": False,
                                         "from_expiry_notice": False}
        assert visit.details["reference"] == out.reference
    for serial in serials(first).values():  # nothing issued that day
        assert look(ctx, serial, VISIT2).ocsp == "good"
    assert len(ctx.authority.list()) == 2
    # The old form is worth nothing now; the new one works.
    old = renew(ctx, rid, PINS, now=at(date(2029, 3, 15)), applicant=with_form(mailed.reference))
    assert isinstance(old, Refused) and old.rule == "R5.4"
    done = renew(ctx, rid, PINS, now=at(date(2029, 3, 15)), applicant=with_form(out.reference))
    assert isinstance(done, Completed), done


def _notice_sent(ctx, rid, reference="EXP-ABCD-EFGH-JKLM"):
    """An expiry notice as the batch records it (R3.4)."""
    with ctx.store.transaction() as s:
        s.add(Letter(resident_id=rid, kind="expiry_notice", reference=reference,
                     state="sent", sent_at=VISIT1, payload={}))
    return reference


def test_R5_5_a_renewal_with_the_expiry_notice_form_in_one_visit(ctx):
    rid, first = holder_with_card(ctx)
    reference = _notice_sent(ctx, rid)

    def by_proxy(ref):
        return ApplicantInput(type="voluntary_proxy", ids=(LICENCE,),
                              inquiry=InquiryAnswer(reference=ref, from_expiry_notice=True))
    # No notice number, or one that is not this holder's: the one-visit path is refused.
    for ref in (None, "EXP-ZZZZ-ZZZZ-ZZZZ"):
        out = renew(ctx, rid, PINS, now=VISIT1, applicant=by_proxy(ref))
        assert isinstance(out, Refused) and out.rule == "R5.5", out
    out = renew(ctx, rid, PINS, now=VISIT1, applicant=by_proxy(reference.lower()))
    assert isinstance(out, Completed), out
    assert out.rule == "R5.5"
    with ctx.store.transaction() as s:
        assert s.execute(select(Letter.state)).scalars().all() == ["answered"]
    # A notice serves once.
    again = renew(ctx, rid, PINS, now=VISIT1, applicant=by_proxy(reference))
    assert isinstance(again, Refused) and again.rule == "R5.5"


def test_R5_5_a_notice_of_another_holder_is_refused(ctx):
    rid, _ = holder_with_card(ctx)
    other = person(ctx, name="川口　次郎", sex="male", birth=date(1975, 3, 3))
    reference = _notice_sent(ctx, other)
    applicant = ApplicantInput(type="voluntary_proxy", ids=(LICENCE,),
                               inquiry=InquiryAnswer(reference=reference,
                                                     from_expiry_notice=True))
    out = renew(ctx, rid, PINS, now=VISIT1, applicant=applicant)
    assert isinstance(out, Refused) and out.rule == "R5.5"


def test_R5_5_b_household_member_filing_the_move_the_same_day(ctx):
    rid, first = holder_with_card(ctx)
    from openjpki.store.residents import Resident

    with ctx.store.transaction() as s:
        household = s.get(Resident, rid).household_id
    spouse = person(ctx, name="山田　花子", sex="female", birth=date(1982, 1, 1),
                    household_id=household, relationship="spouse")
    day = at(date(2025, 6, 2))
    move(ctx, rid, "埼玉県川口市本町一丁目2番3号", day)
    move(ctx, spouse, "埼玉県川口市本町一丁目2番3号", day)
    change_card_particulars(ctx, rid, day)
    no_letter = ApplicantInput(type="voluntary_proxy", ids=(LICENCE,), representative_id=spouse)
    out = reissue_sign(ctx, rid, PINS, now=day, applicant=no_letter)
    assert isinstance(out, Refused) and out.rule == "R5.5"
    assert [str(m) for m in out.missing] == ["letter_of_attorney"]
    member = ApplicantInput(type="voluntary_proxy", ids=(LICENCE,), representative_id=spouse,
                            letter_of_attorney=True)
    out = reissue_sign(ctx, rid, PINS, now=day, applicant=member)
    assert isinstance(out, Completed), out
    assert out.rule == "R5.5"


def test_R5_4_move_filed_earlier_means_two_visits(ctx):
    rid, first = holder_with_card(ctx)
    from openjpki.store.residents import Resident

    with ctx.store.transaction() as s:
        household = s.get(Resident, rid).household_id
    spouse = person(ctx, name="山田　花子", sex="female", birth=date(1982, 1, 1),
                    household_id=household, relationship="spouse")
    move(ctx, rid, "埼玉県川口市本町一丁目2番3号", at(date(2025, 6, 2)))
    change_card_particulars(ctx, rid, at(date(2025, 6, 2)))
    member = ApplicantInput(type="voluntary_proxy", ids=(LICENCE,), representative_id=spouse,
                            letter_of_attorney=True)
    out = reissue_sign(ctx, rid, PINS, now=at(date(2025, 6, 3)), applicant=member)
    assert isinstance(out, InquiryMailed) and out.rule == "R5.4"


def test_R5_4_proxy_without_photo_id_costs_the_form_no_try(ctx):
    rid, first, mailed = first_visit(ctx)
    no_id = ApplicantInput(type="voluntary_proxy",
                           inquiry=InquiryAnswer(reference=mailed.reference))
    out = renew(ctx, rid, PinEntry(card="9999"), now=VISIT2, applicant=no_id)
    assert isinstance(out, Refused) and out.rule == "R5.4"
    assert [str(m) for m in out.missing] == ["applicant_photo_id"]
    from openjpki.store.counter_models import Card

    with ctx.store.transaction() as s:
        assert s.execute(select(Card.card_pin_failures)).scalar_one() == 0
        assert s.execute(select(Letter.state)).scalar_one() == "sent"


def test_R5_5_a_one_notice_serves_one_renewal_under_parallel_visits(ctx):
    """Four counters at once bring the same expiry notice's form: one renewal is done, the
    others are refused (R5.5), on SQLite and on PostgreSQL."""
    import threading

    rid, _ = holder_with_card(ctx)
    reference = _notice_sent(ctx, rid)
    barrier = threading.Barrier(4)
    results, errors = [], []

    def visit():
        applicant = ApplicantInput(type="voluntary_proxy", ids=(LICENCE,),
                                   inquiry=InquiryAnswer(reference=reference,
                                                         from_expiry_notice=True))
        try:
            barrier.wait()
            results.append(renew(ctx, rid, PINS, now=VISIT1, applicant=applicant))
        except Exception as e:  # noqa: BLE001 — a clash reported as such, counted below
            errors.append(e)
    threads = [threading.Thread(target=visit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done = [r for r in results if isinstance(r, Completed)]
    assert len(done) == 1, (results, errors)
    assert not errors, errors
    assert all(isinstance(r, Refused) and r.rule == "R5.5" for r in results if r not in done)
    with ctx.store.transaction() as s:
        assert s.execute(select(Letter.state)).scalars().all() == ["answered"]
