"""Renewal (R3.1–R3.3, R3.7) and re-issue after a change (R4.5) at the counter."""

from __future__ import annotations

from datetime import date

import pytest

from openjpki.rules import Refused
from openjpki.services.counter import Completed, issue_certificates, reissue_sign, renew

from .kit import PINS, at, card_certificate, holder_with_card, look, serials


def test_R3_2_renewal_before_window_refused_names_opening_day(ctx):
    rid, first = holder_with_card(ctx)  # both expire 2029-05-15
    out = renew(ctx, rid, PINS, now=at(date(2029, 2, 14)))
    assert isinstance(out, Refused) and out.rule == "R3.2"
    assert out.opens_on == date(2029, 2, 16)  # the day after 2029-02-15
    assert "2029-02-16" in out.message_en
    for serial in serials(first).values():
        assert look(ctx, serial).ocsp == "good"


def test_R3_1_renewal_in_window_makes_new_keys_and_supersedes(ctx):
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    old_key = card_certificate(ctx, vid, "auth").public_key().public_numbers()
    when = at(date(2029, 2, 16))
    out = renew(ctx, rid, PINS, now=when)
    assert isinstance(out, Completed), out
    assert out.rule == "R5.3"
    new, old = serials(out), serials(first)
    assert {e.serial: (e.reason, e.rule) for e in out.ended} == {
        old["sign"]: ("superseded", "R3.7"), old["auth"]: ("superseded", "R3.7")}
    for kind in ("sign", "auth"):
        assert look(ctx, old[kind], when).ocsp_reason == "superseded"
        assert look(ctx, old[kind], when).status == "revoked"
        assert look(ctx, new[kind], when).ocsp == "good"
    # R2.1: the 5th birthday after 2029-02-16 (2029-05-15 is the first).
    assert {(c.not_after, c.expiry_rule) for c in out.issued} == {(date(2033, 5, 15), "R2.1")}
    auth = card_certificate(ctx, vid, "auth")
    assert auth.public_key().public_numbers() != old_key  # a new key pair, made on the card
    assert format(auth.serial_number, "x") == new["auth"]


def test_R3_3_renewal_after_expiry_refused_new_issuance_instead(ctx):
    rid, first = holder_with_card(ctx)
    when = at(date(2029, 5, 16))
    out = renew(ctx, rid, PINS, now=when)
    assert isinstance(out, Refused) and out.rule == "R3.3"
    again = issue_certificates(ctx, rid, PINS, now=when)
    assert isinstance(again, Completed), again
    assert {c.kind for c in again.issued} == {"sign", "auth"}


def test_R3_2_renewal_only_sign(ctx):
    rid, first = holder_with_card(ctx)
    out = renew(ctx, rid, PINS, now=at(date(2029, 3, 1)), kinds=["sign"])
    assert [c.kind for c in out.issued] == ["sign"]
    # R2.2: the new SIGN may not outlive the AUTH on the same card.
    assert out.issued[0].not_after == date(2029, 5, 15) and out.issued[0].expiry_rule == "R2.2"
    assert look(ctx, serials(first)["auth"]).ocsp == "good"


def test_R1_6_renewal_needs_the_card_pin(ctx):
    rid, first = holder_with_card(ctx)
    out = renew(ctx, rid, PINS.__class__(card="9999", sign="ABC123", auth="5678"),
                now=at(date(2029, 3, 1)))
    assert isinstance(out, Refused) and out.rule == "R1.4"  # wrong PIN: a try used
    assert look(ctx, serials(first)["sign"]).ocsp == "good"
    assert ctx.cards.status(first.details["virtual_card_id"])["keys"]["sign"]


def test_R4_5_reissue_refused_while_sign_is_good(ctx):
    rid, _ = holder_with_card(ctx)
    out = reissue_sign(ctx, rid, PINS, now=at(date(2025, 6, 2)))
    assert isinstance(out, Refused) and out.rule == "R4.5"


@pytest.mark.parametrize("how", ["voluntary", "hold"])
def test_R4_5_sign_not_revoked_by_a_change_is_a_new_issuance_not_a_reissue(ctx, how):
    """Only a SIGN revoked by a change of facts (R4.1) is re-issued after the change; one
    revoked or held on the holder's request is issued again by a new issuance (R3.3)."""
    from openjpki.services.counter import hold, revoke
    from openjpki.store.counter_models import Application

    rid, first = holder_with_card(ctx)
    day = at(date(2025, 6, 2))
    ended = (revoke(ctx, rid, now=day, kinds=["sign"]) if how == "voluntary"
             else hold(ctx, rid, now=day, kinds=["sign"]))
    assert isinstance(ended, Completed), ended
    out = reissue_sign(ctx, rid, PINS, now=day)
    assert isinstance(out, Refused) and out.rule == "R4.5"
    assert "新規発行" in out.message_ja and "new issuance" in out.message_en
    with ctx.store.transaction() as s:
        refused = s.query(Application).filter_by(procedure="reissue_after_change").one()
        assert (refused.state, refused.refusal_rule) == ("refused", "R4.5")
    out = issue_certificates(ctx, rid, PINS, now=day, kinds=["sign"])
    assert isinstance(out, Completed), out
    assert [c.kind for c in out.issued] == ["sign"]
