"""The counter, the letters and the first minutes walked in a real browser (Chromium), with a
screenshot of each step under test-artifacts/pages/: the R5.6 exception for a child and for an
adult ward, the proxy's first visit and its printed inquiry (R5.4), the fee of a card re-issue
(R3.6), a period of stay extended (R2.3), Japanese labels and dates, a locked PIN shown to the
clerk (R1.4), renewals capped by the card and by AUTH, the one-visit renewal with the notice's
form (R5.5 a), a revoked SIGN's PIN refused at the kiosk (R6.3), the visit-1 checklist, the
move's result, R3.5 on the renewal result, R2.6 — and the landing page."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from openjpki.rules import JST

from .conftest import CLERK, SUPERVISOR, T0
from .kit import PINS, seed_holder, sign_in, unique_name
from .latin import stray_latin, visible_text

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')").expect

LICENCE_UNTIL = "2035-01-01"


def japanese_only(page, *, rules_allowed: bool = True) -> None:
    """The page as shown has no stray Latin text (see tests/pages/latin.py)."""
    stray = stray_latin(visible_text(page.content()), rules_allowed=rules_allowed)
    assert stray == [], (page.url, stray)


def add_person(counter, **kw) -> int:
    from openjpki.services.counter import ResidentInput, add_resident

    data = dict(name=unique_name("住民"), address="埼玉県川口市青木二丁目1番1号",
                birth_date=date(1980, 5, 15), sex="female")
    data.update(kw)
    return add_resident(counter, ResidentInput(**data), T0)["id"]


def fill_pins(page, *, sign: bool = True, auth: bool = True, confirm: bool = True) -> None:
    page.locator("#card_pin").fill(PINS["card"])
    for kind, on in (("sign", sign), ("auth", auth)):
        if on:
            page.locator(f"#{kind}_pin").fill(PINS[kind])
            if confirm:
                page.locator(f"#{kind}_pin2").fill(PINS[kind])


def legal_representative_exception(page, rid: int, proof: str, shot: str) -> None:
    page.goto(f"/counter/residents/{rid}/procedures/new_issuance?applicant=legal_representative")
    page.locator("#new_card").check()
    page.locator("#kinds-sign").check()
    page.locator("#kinds-auth").check()
    page.locator("#sign_exception").check()
    page.locator("#holder_present").check()
    page.locator(f"#proofs-{proof}").check()
    page.locator("#photo_id").select_option("drivers_licence")
    page.locator("#photo_valid_until").fill(LICENCE_UNTIL)
    fill_pins(page)
    page.shots(f"{shot}-form", full=True)
    page.locator("#procedure-submit").click()
    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("data-outcome", "completed")
    expect(page.locator('#issued li[data-kind="sign"]')).to_have_count(1)
    japanese_only(page)
    page.shots(f"{shot}-done")


def test_1_r5_6_exception_for_a_child_and_an_adult_ward(page, counter):
    """R5.6: the legal-representative form has the SIGN PIN; forgetting it marks the field;
    with the holder in person and the representative, SIGN is issued by way of exception."""
    child = add_person(counter, birth_date=date(2015, 6, 1), sex="male", relationship="child")
    ward = add_person(counter, birth_date=date(1950, 1, 1), adult_ward=True)
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{child}/procedures/new_issuance"
              "?applicant=legal_representative")
    expect(page.locator("#sign_pin")).to_have_count(1)
    page.locator("#new_card").check()
    page.locator("#kinds-sign").check()
    page.locator("#sign_exception").check()
    page.locator("#holder_present").check()
    page.locator("#proofs-family_register_certificate").check()
    page.locator("#photo_id").select_option("drivers_licence")
    page.locator("#photo_valid_until").fill(LICENCE_UNTIL)
    page.locator("#card_pin").fill(PINS["card"])
    page.locator("#procedure-submit").click()  # the SIGN PIN forgotten
    expect(page.locator("#sign_pin")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#sign_pin-error")).to_be_visible()
    expect(page.locator('#form-errors a[data-field="sign_pin"]')).to_have_count(1)
    page.shots("child-sign-pin-missing", full=True)
    legal_representative_exception(page, child, "family_register_certificate", "child")
    legal_representative_exception(page, ward, "guardianship_registry_certificate", "ward")


def test_2_r5_4_visit_1_prints_the_inquiry(page, counter):
    """R5.4: the first visit mails the 照会書兼回答書兼委任状; the PDF is printed from the result
    and again from the resident's letters; the checklist keeps the sealed form for visit 2."""
    holder = seed_holder(counter, name=unique_name("照会"))
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}/procedures/pin_reset"
              "?applicant=voluntary_proxy")
    items = page.locator("#checklist > ul.checklist:not(#checklist-later) li")
    expect(items.filter(has_text="照会書兼回答書兼委任状")).to_have_count(0)  # finding 9
    expect(page.locator("#checklist-later")).to_contain_text("照会書兼回答書兼委任状")
    page.shots("visit1-checklist", full=True)
    page.locator("#kind-auth").check()
    page.locator("#photo_id").select_option("drivers_licence")
    page.locator("#photo_valid_until").fill(LICENCE_UNTIL)
    page.locator("#procedure-submit").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "inquiry_mailed")
    reference = page.locator("#inquiry-reference").inner_text()
    href = page.locator("#inquiry-pdf").get_attribute("href")
    pdf = page.request.get(href)
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    page.shots("visit1-result")
    page.locator("#back-to-resident").click()
    row = page.locator("#letters tr", has_text=reference)
    expect(row).to_contain_text("照会書兼回答書兼委任状")
    expect(row).to_contain_text("郵送済み")
    again = page.request.get(row.locator("a").get_attribute("href"))
    assert again.body() == pdf.body()  # the same letter, reprinted
    page.shots("resident-letters", full=True)


def test_3_r3_6_fee_of_a_card_reissue_and_the_days_report(page, counter):
    from openjpki.services.counter import revoke

    holder = seed_holder(counter, name=unique_name("手数料"))
    assert revoke(counter, holder.resident_id, now=T0, reason="lost_card").outcome == "completed"
    sign_in(page, SUPERVISOR)
    page.goto(f"/counter/residents/{holder.resident_id}/procedures/new_issuance")
    page.locator("#new_card").check()
    fill_pins(page)
    page.locator("#procedure-submit").click()
    expect(page.locator("#fee")).to_have_attribute("data-yen", "200")
    expect(page.locator("#fee")).to_contain_text("200円")
    japanese_only(page)
    page.shots("fee-on-result")
    page.get_by_role("link", name="手数料の日計").click()
    total = page.locator("#fee-total")
    assert int(total.get_attribute("data-yen")) >= 200
    expect(page.locator("#fee-lines")).to_contain_text("200円")
    page.shots("fee-report")


def test_4_r2_3_stay_extension_on_the_page(page, counter):
    from openjpki.services.counter import CounterRequest, PinEntry, apply

    rid = add_person(counter, name="スミス　ジョン", foreign_resident=True,
                     stay_until=T0.date() + timedelta(days=60))
    done = apply(counter, CounterRequest("new_issuance", rid, new_card=True),
                 PinEntry(card=PINS["card"], sign=PINS["sign"], auth=PINS["auth"]), now=T0)
    assert done.details["card_expires_on"] == (T0.date() + timedelta(days=60)).isoformat()
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{rid}")
    page.locator("#event-stay_extension").click()
    page.locator("#stay_until").fill("2028-03-31")
    page.shots("stay-form")
    page.locator("#event-submit").click()
    expect(page.locator("#outcome")).to_contain_text("在留期間の更新を登録しました")
    page.shots("stay-result")
    page.locator("#back-to-resident").click()
    expect(page.locator("#fact-stay-until")).to_have_text("2028年3月31日")
    expect(page.locator("#cards-h + h3 + p")).to_contain_text("2028年3月31日")  # the card too


def test_5_6_japanese_labels_and_a_locked_pin(page, counter):
    """Finding 5: reasons and dates in Japanese; finding 6: a locked AUTH PIN on the page."""
    from openjpki.card import JpkiClient, PinBlocked, WrongPin
    from openjpki.services.register import move

    holder = seed_holder(counter, name=unique_name("表示"))
    move(counter, holder.resident_id, "埼玉県川口市本町四丁目4番4号", T0)
    vc = counter.cards.open(holder.virtual_card_id)
    try:
        vc.power_on()
        c = JpkiClient(vc)
        c.select_jpki()
        for _ in range(3):
            try:
                c.verify_pin("auth", "0000")
            except (WrongPin, PinBlocked):
                pass
    finally:
        vc.close()
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}")
    table = page.locator("#cards-h ~ .table-wrap table").first
    expect(table).to_contain_text("記録事項の変更")
    expect(table).not_to_contain_text("affiliationChanged")
    expect(table).to_contain_text("2029年5月15日")  # R2.1: the 5th birthday after issue
    expect(page.locator("#pins-locked")).to_contain_text("利用者証明用電子証明書の暗証番号")
    expect(page.locator('[data-pin-locked="auth"]')).to_have_count(1)
    page.shots("labels-and-locked", full=True)


def _renew_on_page(page, rid: int, kinds: tuple[str, ...], shot: str):
    page.goto(f"/counter/residents/{rid}/procedures/renewal")
    for k in kinds:
        page.locator(f"#kinds-{k}").check()
    fill_pins(page, sign="sign" in kinds or not kinds, auth="auth" in kinds or not kinds)
    page.locator("#procedure-submit").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "completed")
    page.shots(shot, full=True)


def test_7_9_renewals_capped_by_the_card_and_by_auth_and_r3_5(page, counter, clock):
    from sqlalchemy import update

    from openjpki.store.counter_models import Card

    by_card = seed_holder(counter, name=unique_name("券面"))
    by_auth = seed_holder(counter, name=unique_name("利用者"))
    with counter.store.transaction() as s:  # a card ending before the next 5th birthday
        s.execute(update(Card).where(Card.id == by_card.card_id)
                  .values(expires_on=date(2031, 8, 1)))
    clock.now = datetime(2029, 3, 1, 10, 0, tzinfo=JST)  # the renewal window (R3.1)
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{by_card.resident_id}/procedures/renewal")
    preview = page.locator("#renewal-preview")  # told before anything is done
    expect(preview.locator('li[data-kind="sign"]')).to_have_attribute("data-basis", "card")
    expect(preview).to_contain_text("2031年8月1日")
    page.shots("renewal-preview-card", full=True)
    page.goto(f"/counter/residents/{by_auth.resident_id}/procedures/renewal")
    alone = page.locator('#renewal-preview li[data-kind="sign"] .alone')
    expect(alone).to_have_attribute("data-nothing-gained", "yes")
    _renew_on_page(page, by_card.resident_id, (), "renewal-capped-by-card")
    expect(page.locator('#cap-sign[data-basis="card"]')).to_contain_text("カードの有効期限")
    expect(page.locator("#services-from")).to_contain_text("2029年3月5日")  # R3.5
    _renew_on_page(page, by_auth.resident_id, ("sign",), "renewal-capped-by-auth")
    cap = page.locator("#cap-sign")
    expect(cap).to_have_attribute("data-basis", "auth")
    expect(cap).to_have_attribute("data-nothing-gained", "yes")
    expect(cap).to_contain_text("この更新では有効期限は延びません")
    japanese_only(page)


def test_8_one_visit_renewal_needs_the_notice_and_the_kiosk_refuses_a_revoked_sign(
        page, counter, clock):
    from openjpki.services.register import move
    from openjpki.store.counter_models import Letter

    holder = seed_holder(counter, name=unique_name("通知"))
    clock.now = datetime(2029, 3, 1, 10, 0, tzinfo=JST)
    with counter.store.transaction() as s:
        s.add(Letter(resident_id=holder.resident_id, kind="expiry_notice",
                     reference="EXP-WALK-AAAA-BBBB", state="sent", sent_at=clock.now,
                     payload={}))
    sign_in(page, CLERK)
    url = (f"/counter/residents/{holder.resident_id}/procedures/renewal"
           "?applicant=voluntary_proxy&visit=notice")

    def send(reference: str) -> None:
        page.goto(url)
        page.locator("#reference").fill(reference)
        page.locator("#photo_id").select_option("drivers_licence")
        page.locator("#photo_valid_until").fill(LICENCE_UNTIL)
        fill_pins(page, confirm=False)
        page.locator("#procedure-submit").click()
    send("EXP-NONE-NONE-NONE")
    expect(page.locator("#decision")).to_have_attribute("data-rule", "R5.5")
    expect(page.locator("#reference")).to_have_attribute("aria-invalid", "true")
    page.shots("notice-number-refused", full=True)
    send("EXP-WALK-AAAA-BBBB")
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "completed")
    japanese_only(page)
    page.shots("notice-renewal-done")

    # The kiosk: the app step while SIGN is good, then a move revokes it (R4.1).
    other = seed_holder(counter, name=unique_name("キオスク"))
    clock.now = datetime(2025, 4, 5, 21, 30, tzinfo=JST)
    page.goto("/kiosk/app")
    page.get_by_label("カード番号").fill(other.card_number)
    page.locator("#target-auth").check()
    page.get_by_label("もう一方の暗証番号").fill(PINS["sign"])
    page.get_by_role("button", name="本人確認").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "reset_prepared")
    japanese_only(page, rules_allowed=False)
    move(counter, other.resident_id, "埼玉県川口市本町四丁目4番4号", clock.now)
    page.goto("/kiosk/pin-reset")
    page.get_by_label("カード番号", exact=False).fill(other.card_number)
    page.locator("#target-auth").check()
    page.get_by_label("もう一方の暗証番号").fill(PINS["sign"])
    page.locator("#new_pin").fill("9999")
    page.locator("#new_pin2").fill("9999")
    page.get_by_role("button", name="再設定").click()
    decision = page.locator("#decision")
    expect(decision).to_have_attribute("data-rule", "R6.3")
    expect(decision).to_contain_text("署名用電子証明書が有効でない")
    expect(decision).not_to_contain_text("R6.3")  # no rule numbers to the public
    japanese_only(page, rules_allowed=False)
    page.shots("kiosk-revoked-sign-refused")


def test_9_move_wording_and_r2_6(page, counter):
    holder = seed_holder(counter, name=unique_name("転居"))
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}/events/move")
    page.locator("#postal_code").fill("332-0012")
    page.locator("#address").fill("埼玉県川口市本町四丁目4番4号")
    page.locator("#event-submit").click()
    outcome = page.locator("#outcome")
    expect(outcome).to_contain_text("署名用電子証明書は失効しました")
    expect(outcome).not_to_contain_text("失効します")
    page.shots("move-result")
    page.locator("#back-to-resident").click()
    expect(page.locator("#fact-address")).to_contain_text("〒332-0012")
    page.locator("#proc-juki-card").click()
    expect(page.locator("#juki-decision")).to_have_attribute("data-rule", "R2.6")
    expect(page.locator("#juki-decision")).to_contain_text("平成27年12月22日")
    page.shots("juki-card")


def test_10_landing_page(page):
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("公的個人認証サービス")
    for target in ("counter", "kiosk", "portal", "docs"):
        expect(page.locator(f"#go-{target}")).to_have_attribute("href", f"/{target}")
    expect(page.locator("#mode")).to_have_attribute("data-mode", "sandbox")
    root = page.request.get(page.locator("#root-sign").get_attribute("href"))
    assert root.status == 200 and root.body().startswith(b"-----BEGIN CERTIFICATE-----")
    crl = page.request.get(page.locator("#crl-auth").get_attribute("href"))
    assert crl.status == 200
    expect(page.locator("#sandbox-state")).to_be_visible()
    page.shots("landing", full=True)
    page.locator("#lang-switch").click()
    expect(page.locator("#what-h")).to_have_text("What runs here")
    page.shots("landing-en")
