"""A clerk's round of the counter in Chromium, one screenshot per screen under
test-artifacts/pages/: the counter's home, a resident with a 〒 on the page, each procedure's
result (PIN change, hold, revocation, a new card after the old one is returned), and the
resident's letters with an expiry notice of the card alone printed again — every screen in
Japanese without stray Latin text or internal codes."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from openjpki.rules import JST

from .conftest import CLERK
from .kit import PINS, seed_holder, sign_in, unique_name
from .test_counter_walkthrough import LICENCE_UNTIL, fill_pins, japanese_only

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')").expect


def carry_out(page, shot: str, outcome: str = "completed") -> None:
    page.locator("#procedure-submit").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", outcome)
    japanese_only(page)
    page.shots(shot, full=True)


def photo(page) -> None:
    page.locator("#photo_id").select_option("drivers_licence")
    page.locator("#photo_valid_until").fill(LICENCE_UNTIL)


def test_a_clerks_round_of_the_procedures(page, counter):
    holder = seed_holder(counter, name=unique_name("窓口"))
    sign_in(page, CLERK)
    page.goto("/counter")
    japanese_only(page)
    page.shots("counter-home", full=True)
    page.goto(f"/counter/residents/{holder.resident_id}")
    japanese_only(page)
    page.shots("resident", full=True)

    page.goto(f"/counter/residents/{holder.resident_id}/procedures/pin_change")
    page.locator("#kind-auth").check()
    photo(page)
    page.locator("#current_pin").fill(PINS["auth"])
    page.locator("#new_pin").fill("2468")
    page.locator("#new_pin2").fill("2468")
    carry_out(page, "pin-change-done")

    page.goto(f"/counter/residents/{holder.resident_id}/procedures/hold")
    photo(page)
    carry_out(page, "hold-done")
    expect(page.locator("#outcome")).to_contain_text("一時保留")

    page.goto(f"/counter/residents/{holder.resident_id}/procedures/revocation")
    page.locator("#reason").select_option("voluntary")
    photo(page)
    carry_out(page, "revocation-done")
    expect(page.locator("#outcome")).to_contain_text("失効")

    page.goto(f"/counter/residents/{holder.resident_id}")
    japanese_only(page)
    page.shots("resident-after", full=True)


def test_a_card_alone_noticed_and_its_letter_printed_again(page, counter, tmp_path):
    """No certificate on the card (both declined): the card's own expiry is noticed (R3.4),
    listed under the resident's letters and printed again from there."""
    from openjpki.services.notices import run_expiry_notices
    from openjpki.rules import card_expiry, expiry_notice_on

    holder = seed_holder(counter, name=unique_name("通知"), declined=("sign", "auth"))
    end = card_expiry(date(1980, 5, 15), date(2025, 4, 1))
    on = expiry_notice_on(end)
    batch = run_expiry_notices(counter.store, on, out_dir=tmp_path,
                               now=datetime(on.year, on.month, on.day, 2, tzinfo=JST))
    assert batch.cards >= 1
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}")
    row = page.locator("#letters tr", has_text="マイナンバーカードの有効期限通知書")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("郵送済み")
    expect(row).not_to_contain_text("回答待ち")  # a notice awaits no answer
    # No certificate on the card, so no PIN of one to call locked (R1.4 / R5.10).
    expect(page.locator("main")).not_to_contain_text("ロックされています")
    japanese_only(page)
    page.shots("card-notice-listed", full=True)
    pdf = page.request.get(row.locator("a").get_attribute("href"))
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")


def test_a_new_card_after_the_old_one_is_returned(page, counter):
    """The result of a new issuance on the page: both certificates with their expiry, the
    fee line of a paid re-issue (R3.6)."""
    from openjpki.services.counter import end_card

    holder = seed_holder(counter, name=unique_name("再交付"))
    end_card(counter, holder.resident_id, "returned", now=datetime(2025, 4, 1, 11, tzinfo=JST))
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}/procedures/new_issuance")
    page.locator("#new_card").check()
    page.locator("#paid_card_reissue").check()
    photo(page)
    fill_pins(page)
    carry_out(page, "new-card-done")
    expect(page.locator("main")).to_contain_text("手数料: 200円")


def test_a_marriage_then_the_card_face_and_sign_again(page, counter):
    """A change of name (R4.1) revokes SIGN; the result leads to the card's particulars
    (R5.2), then to SIGN again in the same visit (R4.5)."""
    holder = seed_holder(counter, name=unique_name("婚姻"))
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}/events/name_change")
    page.locator("#name").fill(unique_name("新姓"))
    page.locator("#event-submit").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "registered")
    expect(page.locator('#ended li[data-kind="sign"]')).to_contain_text("失効")
    japanese_only(page)
    page.shots("name-change-result", full=True)
    page.locator("#particulars-link").click()
    page.locator("#event-submit").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "registered")
    japanese_only(page)
    page.shots("particulars-result", full=True)
    page.locator("#offer-link-reissue_after_change").click()  # the R4.5 offer, again
    photo(page)
    fill_pins(page, auth=False)
    carry_out(page, "sign-again-done")
    expect(page.locator('#issued li[data-kind="sign"]')).to_have_count(1)
    # Not a renewal: nothing to say about not extending the validity.
    expect(page.locator('[data-nothing-gained="yes"]')).to_have_count(0)
