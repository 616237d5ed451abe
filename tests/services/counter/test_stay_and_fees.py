"""A foreign resident's period of stay extended (R2.3) — the register event, the card that
follows it, and a renewal that reaches the new period — and the fees of R3.6 as data in the
office calendar, with their receipt lines and the day's report."""

from __future__ import annotations

import json
from datetime import date

import pytest

from openjpki.rules.calendars import CalendarConfigError, parse_calendar
from openjpki.services.counter import (
    Completed, CounterRequest, InputError, apply, issue_new_card, renew, revoke,
    show_resident,
)
from openjpki.services.counter.fees import day_report
from openjpki.services.register_stay import extend_stay

from .kit import PINS, at, cli, person

STAY = date(2025, 6, 30)  # 90 days after the first day of the tests (2025-04-01)


def foreigner(ctx):
    return person(ctx, name="スミス　ジョン", birth=date(1990, 3, 3), foreign_resident=True,
                  stay_until=STAY)


def test_R2_3_the_card_and_its_certificates_end_with_the_stay(ctx):
    rid = foreigner(ctx)
    out = issue_new_card(ctx, rid, PINS, now=at(date(2025, 4, 1)))
    assert isinstance(out, Completed), out
    assert out.details["card_expires_on"] == STAY.isoformat()  # not 10 years past it
    assert {c.not_after for c in out.issued} == {STAY}


def test_R2_3_stay_extension_lets_renewal_reach_the_new_period(ctx):
    rid = foreigner(ctx)
    issue_new_card(ctx, rid, PINS, now=at(date(2025, 4, 1)))
    new_stay = date(2028, 6, 30)
    result = extend_stay(ctx, rid, new_stay, at(date(2025, 5, 1)))
    assert result.rule == "R2.3" and result.ended == ()  # nothing is revoked
    assert result.details["cards"][0]["to"] == new_stay.isoformat()
    shown = show_resident(ctx, rid)
    assert shown["stay_until"] == new_stay.isoformat()
    assert shown["cards"][0]["expires_on"] == new_stay.isoformat()
    # The certificates keep their day; a renewal in the window reaches the new period.
    renewed = renew(ctx, rid, PINS, now=at(date(2025, 5, 1)))
    assert isinstance(renewed, Completed), renewed
    assert {c.not_after for c in renewed.issued} == {new_stay}
    assert {c.expiry_rule for c in renewed.issued} <= {"R2.2", "R2.3"}
    assert renewed.details["fee"] == 0  # R3.6: renewal is free


@pytest.mark.parametrize("until, why", [
    (date(2025, 6, 1), "later than the current one"),
    (date(2020, 1, 1), "in the past"),
])
def test_R2_3_stay_extension_refuses_what_is_not_an_extension(ctx, until, why):
    rid = foreigner(ctx)
    with pytest.raises(InputError, match=why):
        extend_stay(ctx, rid, until, at(date(2025, 4, 1)))


def test_R2_3_stay_extension_is_for_foreign_residents_only(ctx):
    rid = person(ctx)
    with pytest.raises(InputError, match="not a foreign resident"):
        extend_stay(ctx, rid, date(2030, 1, 1), at(date(2025, 4, 1)))


def test_R2_3_register_stay_extension_command(capsys, inited_home):
    home = inited_home
    rc, out, err = cli(capsys, home, "resident", "add", "--name", "スミス　ジョン", "--address",
                       "埼玉県川口市青木二丁目1番1号", "--birth", "1990-03-03", "--sex", "male",
                       "--stay-until", "2099-01-01", "--json")
    assert rc == 0, err
    rid = json.loads(out)["id"]
    rc, out, err = cli(capsys, home, "register", "stay-extension", str(rid), "--until",
                       "2100-01-01", "--json")
    assert rc == 0, err
    body = json.loads(out)
    assert body["event"] == "stay_extension" and body["rule"] == "R2.3"
    assert body["resident"]["stay_until"] == "2100-01-01"
    rc, out, err = cli(capsys, home, "register", "stay-extension", str(rid), "--until",
                       "2000-01-01")
    assert rc == 2 and "past" in (out + err) and "Traceback" not in err


# --- fees (R3.6) ----------------------------------------------------------------------------

def test_R3_6_fees_are_data_in_the_calendar():
    text = """
[fees]
with_paid_card_reissue = 300
[offices.a]
weekdays = "08:30-17:15"
"""
    fees = parse_calendar(text).fees
    assert (fees.for_issuance(False), fees.for_issuance(True)) == (0, 300)
    for bad in ('with_paid_card_reissue = "200"', "with_paid_card_reissue = -1",
                "surcharge = 5"):
        with pytest.raises(CalendarConfigError, match=r"\[fees\]"):
            parse_calendar(f'[fees]\n{bad}\n[offices.a]\nweekdays = "08:30-17:15"\n')


def test_R3_6_a_new_card_after_a_lost_one_costs_200_yen_with_a_receipt(ctx):
    rid = person(ctx)
    day = at(date(2025, 4, 1))
    first = issue_new_card(ctx, rid, PINS, now=day)
    assert first.details["fee"] == 0  # issuance is free
    assert isinstance(revoke(ctx, rid, now=day, reason="lost_card"), Completed)
    again = apply(ctx, CounterRequest("new_issuance", rid, new_card=True), PINS, now=day)
    assert isinstance(again, Completed), again
    assert (again.details["fee"], again.details["fee_reason"]) == (200, "card_reissue")
    # A paid replacement (not lost) says so on the request.
    paid = apply(ctx, CounterRequest("new_issuance", rid, new_card=True,
                                     paid_card_reissue=True), PINS, now=at(date(2025, 4, 1), 11))
    assert paid.details["fee"] == 200
    report = day_report(ctx, date(2025, 4, 1))
    assert (report["total"], report["count"]) == (400, 2)
    assert report["offices"] == {"city-hall": 400}
    assert day_report(ctx, date(2025, 4, 2))["total"] == 0
