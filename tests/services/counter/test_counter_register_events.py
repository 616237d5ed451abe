"""Resident-register events: a change of the basic four facts revokes SIGN at once
(affiliationChanged, R4.1), keeps AUTH (R4.2), puts the card face out of date until
記載事項変更 (R5.2), and offers a SIGN re-issue in the same visit (R4.5) carrying the new
facts."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from openjpki.pki import read_sign_facts
from openjpki.rules import Refused
from openjpki.services import register
from openjpki.services.counter import Completed, InputError, reissue_sign, renew
from openjpki.store.counter_models import Card

from .kit import PINS, at, card_certificate, holder_with_card, look, person, serials

DAY = at(date(2025, 6, 2))
NEW_ADDRESS = "埼玉県川口市本町一丁目2番3号"


def test_R4_1_move_revokes_sign_keeps_auth_and_reissue_carries_new_address(ctx):
    rid, first = holder_with_card(ctx)
    s = serials(first)
    result = register.move(ctx, rid, NEW_ADDRESS, DAY)
    # R4.1: revoked right away, in the same transaction as the change.
    assert [(e.kind, e.serial, e.reason, e.rule) for e in result.ended] == [
        ("sign", s["sign"], "affiliationChanged", "R4.1")]
    seen = look(ctx, s["sign"], DAY)
    assert (seen.status, seen.ocsp, seen.ocsp_reason) == (
        "revoked", "revoked", "affiliationChanged")
    assert look(ctx, s["auth"], DAY).ocsp == "good"  # R4.2
    assert result.resident["address"] == NEW_ADDRESS
    assert result.card_faces_out_of_date == (first.card_number,)
    assert [o.to_dict()["procedure"] for o in result.offers] == ["reissue_after_change"]
    assert result.offers[0].rule == "R4.5"
    assert result.offers[0].first == ("change_of_particulars",)

    # R5.2: the re-issue waits for 記載事項変更.
    early = reissue_sign(ctx, rid, PINS, now=DAY)
    assert isinstance(early, Refused) and early.rule == "R5.2"
    assert [str(m) for m in early.missing] == ["change_of_particulars"]
    register.change_card_particulars(ctx, rid, DAY)
    out = reissue_sign(ctx, rid, PINS, now=DAY)
    assert isinstance(out, Completed), out
    assert [c.kind for c in out.issued] == ["sign"]
    assert out.ended == ()  # the old SIGN keeps its reason affiliationChanged
    assert look(ctx, s["sign"], DAY).ocsp_reason == "affiliationChanged"
    new_sign = card_certificate(ctx, first.details["virtual_card_id"], "sign")
    assert read_sign_facts(new_sign).address == NEW_ADDRESS
    assert look(ctx, out.issued[0].serial, DAY).ocsp == "good"
    assert look(ctx, s["auth"], DAY).ocsp == "good"


@pytest.mark.parametrize("event, args, field, expected", [
    ("change_name", dict(name="鈴木　太郎"), "name", "鈴木　太郎"),
    ("change_name", dict(former_surname="山田"), "name", "山田　太郎（旧氏　山田）"),
    ("change_name", dict(alias="ヤマダ"), "name", "山田　太郎（通称　ヤマダ）"),
    ("correct_birth_date", dict(birth_date=date(1980, 5, 16)), "birth_date", date(1980, 5, 16)),
    ("correct_sex", dict(sex="female"), "sex", 2),
])
def test_R4_1_change_of_facts_revokes_sign_only(ctx, event, args, field, expected):
    rid, first = holder_with_card(ctx)
    s = serials(first)
    fn = getattr(register, event)
    if event == "change_name":
        result = fn(ctx, rid, DAY, **args)
    else:
        result = fn(ctx, rid, *args.values(), DAY)
    assert [(e.kind, e.reason) for e in result.ended] == [("sign", "affiliationChanged")]
    assert look(ctx, s["sign"], DAY).ocsp_reason == "affiliationChanged"
    assert look(ctx, s["auth"], DAY).status == "good"
    register.change_card_particulars(ctx, rid, DAY)
    out = reissue_sign(ctx, rid, PINS, now=DAY)
    assert isinstance(out, Completed), out
    facts = read_sign_facts(card_certificate(ctx, first.details["virtual_card_id"], "sign"))
    assert getattr(facts, field) == expected


def test_R4_1_move_in_from_another_municipality(ctx):
    from openjpki.services.counter import ResidentInput, add_resident

    rid = add_resident(ctx, ResidentInput(
        name="佐藤　一郎", address="東京都千代田区一番町1番", birth_date=date(1975, 1, 1),
        sex=1, municipality_code="131016", prefecture="東京都", municipality="千代田区"),
        at(date(2025, 4, 1)))["id"]
    from openjpki.services.counter import issue_new_card

    # The card was issued where he lived (the sandbox keeps one register for all).
    first = issue_new_card(ctx, rid, PINS, now=at(date(2025, 4, 1)))
    assert isinstance(first, Completed)
    result = register.move_in(ctx, rid, "埼玉県川口市栄町三丁目1番", DAY)
    assert result.event == "move_in"
    assert result.resident["municipality"] == "川口市" and result.resident["prefecture"] == "埼玉県"
    assert [e.reason for e in result.ended] == ["affiliationChanged"]
    register.change_card_particulars(ctx, rid, DAY)
    out = reissue_sign(ctx, rid, PINS, now=DAY)
    facts = read_sign_facts(card_certificate(ctx, first.details["virtual_card_id"], "sign"))
    assert facts.address == "埼玉県川口市栄町三丁目1番"


def test_R5_2_out_of_date_face_blocks_renewal_until_particulars_changed(ctx):
    rid, first = holder_with_card(ctx)
    register.move(ctx, rid, NEW_ADDRESS, at(date(2029, 3, 1)))
    out = renew(ctx, rid, PINS, now=at(date(2029, 3, 1)), kinds=["auth"])
    assert isinstance(out, Refused) and out.rule == "R5.2"
    with ctx.store.transaction() as s:
        assert s.execute(select(Card.face_up_to_date)).scalar_one() is False
    register.change_card_particulars(ctx, rid, at(date(2029, 3, 1)))
    out = renew(ctx, rid, PINS, now=at(date(2029, 3, 1)), kinds=["auth"])
    assert isinstance(out, Completed), out


def test_register_event_without_certificates_offers_nothing(ctx):
    rid = person(ctx)
    result = register.move(ctx, rid, NEW_ADDRESS, DAY)
    assert result.ended == () and result.offers == ()


@pytest.mark.parametrize("call", [
    lambda ctx, rid: register.move(ctx, rid, "埼玉県川口市青木二丁目1番1号", DAY),  # same
    lambda ctx, rid: register.move(ctx, rid, "", DAY),
    lambda ctx, rid: register.correct_sex(ctx, rid, "x", DAY),
    lambda ctx, rid: register.correct_birth_date(ctx, rid, date(2030, 1, 1), DAY),
    lambda ctx, rid: register.change_name(ctx, rid, DAY),
    lambda ctx, rid: register.move(ctx, 999, NEW_ADDRESS, DAY),
])
def test_bad_register_input_changes_nothing(ctx, call):
    rid, first = holder_with_card(ctx)
    with pytest.raises(InputError):
        call(ctx, rid)
    assert look(ctx, serials(first)["sign"], DAY).ocsp == "good"


def test_a_move_without_a_postal_code_drops_the_old_one(ctx):
    """The 郵便番号 belongs to the address: a move that gives none leaves none (the letters
    print no 〒 rather than the old one); a move that gives one sets it."""
    from openjpki.store.residents import Resident

    rid = person(ctx, postal_code="332-0031")
    register.move(ctx, rid, "埼玉県川口市本町四丁目1番1号", at(date(2025, 4, 2)),
                  postal_code="332-0012")
    with ctx.store.transaction() as s:
        assert s.get(Resident, rid).postal_code == "332-0012"
    out = register.move(ctx, rid, "埼玉県川口市栄町三丁目3番3号", at(date(2025, 4, 3)))
    with ctx.store.transaction() as s:
        assert s.get(Resident, rid).postal_code is None
    assert out.to_dict()["changed"]["postal_code"] == {"from": "332-0012", "to": None}


def test_R4_5_the_particulars_offer_sign_again_until_it_is_done(ctx):
    """After a move revoked SIGN, the change of particulars offers the re-issue once more
    (R4.5, the face is now up to date); once SIGN is issued again it offers nothing."""
    rid, _ = holder_with_card(ctx)
    register.move(ctx, rid, "埼玉県川口市本町四丁目1番1号", at(date(2025, 4, 2)))
    out = register.change_card_particulars(ctx, rid, at(date(2025, 4, 2)))
    assert [o["procedure"] for o in out["offers"]] == ["reissue_after_change"]
    assert out["offers"][0]["rule"] == "R4.5" and out["offers"][0]["kinds"] == ["sign"]
    done = reissue_sign(ctx, rid, PINS, now=at(date(2025, 4, 2), 10, 30))
    assert isinstance(done, Completed), done
    again = register.change_card_particulars(ctx, rid, at(date(2025, 4, 3)))
    assert again["offers"] == []
