"""Revocation on the holder's request and hold (R4.3), lost card (R4.4), as the authority
service and its OCSP responder report them."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from openjpki.rules import Refused
from openjpki.rules.documents import PhotoId, PresentedId
from openjpki.services.counter import ApplicantInput, Completed, hold, renew, revoke
from openjpki.store.counter_models import Card

from .kit import PINS, at, holder_with_card, look, serials

WHEN = at(date(2025, 6, 2))


def test_R4_3_revocation_on_request_is_cessation_of_operation(ctx):
    rid, first = holder_with_card(ctx)
    s = serials(first)
    out = revoke(ctx, rid, now=WHEN, kinds=["sign"])
    assert isinstance(out, Completed), out
    assert [(e.kind, e.status, e.reason, e.rule) for e in out.ended] == [
        ("sign", "revoked", "cessationOfOperation", "R4.3")]
    seen = look(ctx, s["sign"], WHEN)
    assert (seen.status, seen.ocsp, seen.ocsp_reason) == (
        "revoked", "revoked", "cessationOfOperation")
    assert look(ctx, s["auth"], WHEN).ocsp == "good"


def test_R4_3_lost_card_without_the_card_is_key_compromise(ctx):
    rid, first = holder_with_card(ctx)
    applicant = ApplicantInput(card_presented=False,
                               ids=(PresentedId(PhotoId.PASSPORT, valid_until=date(2030, 1, 1)),))
    out = revoke(ctx, rid, now=WHEN, reason="lost_card", applicant=applicant)
    assert isinstance(out, Completed), out
    assert {e.reason for e in out.ended} == {"keyCompromise"}
    for serial in serials(first).values():
        assert look(ctx, serial, WHEN).ocsp_reason == "keyCompromise"
    with ctx.store.transaction() as s:
        assert s.execute(select(Card.state)).scalar_one() == "lost"


def test_R5_7_revocation_without_card_needs_photo_id(ctx):
    rid, first = holder_with_card(ctx)
    out = revoke(ctx, rid, now=WHEN, applicant=ApplicantInput(card_presented=False))
    assert isinstance(out, Refused) and out.rule == "R5.7"
    assert look(ctx, serials(first)["sign"], WHEN).ocsp == "good"


def test_R4_3_hold_is_published_then_becomes_a_revocation(ctx):
    rid, first = holder_with_card(ctx)
    s = serials(first)
    out = hold(ctx, rid, now=WHEN)
    assert isinstance(out, Completed), out
    for serial in s.values():
        seen = look(ctx, serial, WHEN)
        assert (seen.status, seen.ocsp, seen.ocsp_reason) == (
            "hold", "revoked", "certificateHold")
    again = hold(ctx, rid, now=WHEN)  # never released, not held twice
    assert isinstance(again, Refused) and again.rule == "R4.3"
    later = at(date(2025, 6, 9))
    out = revoke(ctx, rid, now=later, kinds=["auth"], reason="key_compromise")
    assert isinstance(out, Completed), out
    seen = look(ctx, s["auth"], later)
    assert (seen.status, seen.ocsp_reason) == ("revoked", "keyCompromise")
    assert look(ctx, s["sign"], later).status == "hold"


def test_R4_3_revoked_certificate_stays_revoked(ctx):
    rid, _ = holder_with_card(ctx)
    revoke(ctx, rid, now=WHEN, kinds=["auth"])
    out = hold(ctx, rid, now=WHEN, kinds=["auth"])
    assert isinstance(out, Refused) and out.rule == "R4.3"


def test_R3_3_renewal_of_a_revoked_certificate_refused(ctx):
    rid, _ = holder_with_card(ctx)
    revoke(ctx, rid, now=WHEN, kinds=["sign"])
    out = renew(ctx, rid, PINS, now=at(date(2029, 3, 1)), kinds=["sign"])
    assert isinstance(out, Refused) and out.rule == "R3.3"


def test_unknown_revocation_reason_is_bad_input(ctx):
    from openjpki.services.counter import InputError

    rid, _ = holder_with_card(ctx)
    with pytest.raises(InputError, match="unknown revocation reason"):
        revoke(ctx, rid, now=WHEN, reason="bored")


def test_R4_3_nothing_to_revoke_without_a_card(ctx):
    from .kit import person

    rid = person(ctx)
    out = hold(ctx, rid, now=WHEN)
    assert isinstance(out, Refused) and out.rule == "R4.3"


@pytest.mark.parametrize("end, reason", [
    ("returned", "cessationOfOperation"), ("voided", "cessationOfOperation"),
    ("lost", "keyCompromise"), ("expired", None),
])
def test_R4_4_certificates_end_with_the_card(ctx, end, reason):
    from openjpki.services.counter import end_card

    rid, first = holder_with_card(ctx)
    out = end_card(ctx, rid, end, now=WHEN)
    assert isinstance(out, Completed) and out.rule == "R4.4"
    for serial in serials(first).values():
        seen = look(ctx, serial, WHEN)
        if reason is None:
            assert seen.status == "good"  # nothing to publish: they expired with the card
        else:
            assert (seen.status, seen.ocsp_reason) == ("revoked", reason)
    with ctx.store.transaction() as s:
        assert s.execute(select(Card.state)).scalar_one() == end
    # No valid card any more: the counter procedures that need one refuse (R5.2).
    again = renew(ctx, rid, PINS, now=at(date(2029, 3, 1)))
    assert isinstance(again, Refused) and again.rule == "R5.2"
