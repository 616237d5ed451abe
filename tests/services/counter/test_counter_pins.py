"""PIN change (R1.7) and PIN reset / unlock at the counter (R1.6, R6.5), with the card's own
try counters (R1.4)."""

from __future__ import annotations

from datetime import date

import pytest

from openjpki.card import JpkiClient, PinBlocked, WrongPin
from openjpki.rules import Refused
from openjpki.services.counter import Completed, change_pin, reset_pin
from openjpki.store.counter_models import Card

from .kit import PINS, at, card_pin_tries, holder_with_card

WHEN = at(date(2025, 6, 2))


def verify(ctx, vid, kind, pin):
    vc = ctx.cards.open(vid)
    try:
        vc.power_on()
        c = JpkiClient(vc)
        c.select_jpki()
        c.verify_pin(kind, pin)
    finally:
        vc.close()


def lock(ctx, vid, kind, tries):
    for _ in range(tries):
        with pytest.raises((WrongPin, PinBlocked)):
            verify(ctx, vid, kind, "0000" if kind == "auth" else "WRONG0")


@pytest.mark.parametrize("kind, current, new", [("auth", "5678", "2468"),
                                                ("sign", "ABC123", "NEWPIN77")])
def test_R1_7_pin_change_with_the_current_pin(ctx, kind, current, new):
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    out = change_pin(ctx, rid, kind, current, new, now=WHEN)
    assert isinstance(out, Completed), out
    assert (out.rule, out.pins_set) == ("R1.7", (kind,))
    verify(ctx, vid, kind, new)  # the card takes the new PIN
    with pytest.raises(WrongPin):
        verify(ctx, vid, kind, current)


def test_R1_4_pin_change_with_a_wrong_pin_uses_a_try(ctx):
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    out = change_pin(ctx, rid, "auth", "0000", "2468", now=WHEN)
    assert isinstance(out, Refused) and out.rule == "R1.4"
    assert "2" in out.message_en  # two tries left
    assert card_pin_tries(ctx, vid, "auth") == 2
    verify(ctx, vid, "auth", "5678")  # unchanged


def test_R1_3_pin_change_to_a_malformed_pin_costs_no_try(ctx):
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    out = change_pin(ctx, rid, "sign", "WRONG0", "short", now=WHEN)
    assert isinstance(out, Refused) and out.rule == "R1.3"
    assert card_pin_tries(ctx, vid, "sign") == 5


def test_R1_7_locked_pin_cannot_be_changed_only_reset(ctx):
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    lock(ctx, vid, "auth", 3)
    out = change_pin(ctx, rid, "auth", "5678", "2468", now=WHEN)
    assert isinstance(out, Refused) and out.rule == "R1.7"
    reset = reset_pin(ctx, rid, "auth", "1234", "2468", now=WHEN)
    assert isinstance(reset, Completed), reset
    assert reset.rule == "R6.5"  # the reset clears the lock and the count
    assert card_pin_tries(ctx, vid, "auth") == 3
    verify(ctx, vid, "auth", "2468")


def test_R1_6_pin_reset_needs_the_card_pin(ctx):
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    lock(ctx, vid, "sign", 5)
    out = reset_pin(ctx, rid, "sign", "9999", "NEWPIN1", now=WHEN)
    assert isinstance(out, Refused) and out.rule == "R1.4"
    with pytest.raises(PinBlocked):
        verify(ctx, vid, "sign", "ABC123")
    out = reset_pin(ctx, rid, "sign", "1234", "NEWPIN1", now=WHEN)
    assert isinstance(out, Completed) and out.rule == "R6.5"
    verify(ctx, vid, "sign", "NEWPIN1")


def test_R1_6_card_pin_locks_after_three_wrong_tries(ctx):
    rid, first = holder_with_card(ctx)
    rules = [reset_pin(ctx, rid, "auth", "0000", "2468", now=WHEN).rule for _ in range(3)]
    assert rules == ["R1.4", "R1.4", "R1.4"]
    out = reset_pin(ctx, rid, "auth", "1234", "2468", now=WHEN)  # right, but locked
    assert isinstance(out, Refused) and out.rule == "R1.7"
    from sqlalchemy import select

    with ctx.store.transaction() as s:
        assert s.execute(select(Card.card_pin_locked, Card.card_pin_failures)).one() == (True, 3)


def test_R1_6_malformed_card_pin_costs_no_try(ctx):
    rid, _ = holder_with_card(ctx)
    out = reset_pin(ctx, rid, "auth", "12", "2468", now=WHEN)
    assert isinstance(out, Refused) and out.rule == "R1.6"
    from sqlalchemy import select

    with ctx.store.transaction() as s:
        assert s.execute(select(Card.card_pin_failures)).scalar_one() == 0
