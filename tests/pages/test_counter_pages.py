"""The counter clerk's pages in a real browser (Chromium, headless): a new issuance, the
voluntary proxy's two visits, a move that revokes SIGN and its re-issue in the same visit,
bad input shown beside its field in Japanese (and in English when switched), a refusal with
its rule and the day it becomes possible, and the keyboard alone."""

from __future__ import annotations

import re
from datetime import date

import pytest

from .conftest import CLERK, SUPERVISOR
from .kit import PINS, seed_holder, sign_in, unique_name

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')").expect


def _cert_row(page, kind: str, current: bool = True):
    sel = f'tr.cert[data-kind="{kind}"][data-current="{"yes" if current else "no"}"]'
    return page.locator(sel)


def test_r5_1_new_issuance_at_the_counter(page, counter):
    """R5.1, R5.3, R5.10: the clerk enters a resident, sees the holder's checklist and the
    PINs to enter, and issues a new card with both certificates."""
    sign_in(page, CLERK)
    page.shots("signed-in")
    page.get_by_role("link", name="住民登録").first.click()
    name = unique_name("新規")
    page.locator("#name").fill(name)
    page.get_by_label("住所").fill("埼玉県川口市青木三丁目5番5号")
    page.get_by_label("生年月日").fill("1985-07-07")
    page.get_by_label("性別").select_option("female")
    page.shots("resident-form")
    page.get_by_role("button", name="登録").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)

    page.locator("#proc-new_issuance").click()
    checklist = page.locator("#checklist")
    expect(checklist).to_contain_text("本人のマイナンバーカード")  # R5.3: the holder brings the card
    expect(checklist).to_contain_text("住民基本台帳用暗証番号")  # R1.6
    page.get_by_label("新しいカードの交付とともに発行").check()
    page.get_by_label("住民基本台帳用暗証番号（数字4桁、R1.6）").fill(PINS["card"])
    page.get_by_label("署名用電子証明書の暗証番号（英大文字と数字6〜16文字）").fill(PINS["sign"])
    page.get_by_label("署名用の暗証番号（確認）").fill(PINS["sign"])
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill(PINS["auth"])
    page.get_by_label("利用者証明用の暗証番号（確認）").fill(PINS["auth"])
    page.shots("issuance-form")
    page.get_by_role("button", name="手続きを実行").click()

    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("data-outcome", "completed")
    expect(outcome).to_contain_text("手続きが完了しました")
    expect(page.locator("#issued li")).to_have_count(2)
    card_number = page.locator("#card-number").inner_text()
    assert re.fullmatch(r"\d{12}", card_number)
    page.shots("issued")
    page.locator("#back-to-resident").click()
    for kind in ("sign", "auth"):
        expect(_cert_row(page, kind)).to_have_attribute("data-status", "good")
    page.shots("resident-with-card")


def test_r5_4_voluntary_proxy_two_visits(page, counter):
    """R5.4: visit 1 mails the inquiry form (its reference shown); visit 2 brings it back
    sealed with the PINs written on it, and the certificate is issued."""
    holder = seed_holder(counter, declined=("sign",))  # AUTH only on the card (R5.10)
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}")
    page.locator("#proxy1-new_issuance").click()
    expect(page.locator("#procedure-title")).to_contain_text("1回目")
    expect(page.locator("#checklist")).to_contain_text("照会書兼回答書兼委任状")
    page.locator("#kinds-sign").check()
    page.get_by_label("提示された書類").select_option("drivers_licence")
    page.get_by_label("有効期限", exact=True).fill("2030-01-31")
    page.shots("visit-1-form")
    page.get_by_role("button", name="受け付けて照会書を郵送").click()
    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("data-outcome", "inquiry_mailed")
    expect(outcome).to_contain_text("R5.4")
    reference = page.locator("#inquiry-reference").inner_text()
    assert re.fullmatch(r"INQ-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}", reference)
    page.shots("visit-1-inquiry-mailed")

    # The resident page shows the proxy flow's state: waiting for this reference.
    page.locator("#back-to-resident").click()
    waiting = page.locator("#proxy-waiting")
    expect(waiting).to_contain_text(reference)
    page.shots("waiting-for-the-form")
    waiting.get_by_role("link", name="2回目の来庁").click()
    expect(page.locator("#procedure-title")).to_contain_text("2回目")
    expect(page.get_by_label("照会番号")).to_have_value(reference)
    page.locator("#kinds-sign").check()
    page.get_by_label("提示された書類").select_option("drivers_licence")
    page.get_by_label("有効期限", exact=True).fill("2030-01-31")
    page.get_by_label("住民基本台帳用暗証番号（数字4桁、R1.6）").fill(PINS["card"])
    page.get_by_label("署名用電子証明書の暗証番号（英大文字と数字6〜16文字）").fill("PROXY22")
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill(PINS["auth"])
    page.shots("visit-2-form")
    page.get_by_role("button", name="手続きを実行").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "completed")
    expect(page.locator('#issued li[data-kind="sign"]')).to_have_count(1)
    page.shots("visit-2-issued")
    page.locator("#back-to-resident").click()
    expect(_cert_row(page, "sign")).to_have_attribute("data-status", "good")
    expect(page.locator("#proxy-waiting")).to_have_count(0)


def test_r4_1_move_revokes_sign_and_r4_5_reissue(page, counter):
    """R4.1/R4.2: 転居 revokes SIGN at once and leaves AUTH good; R5.2: the card face is
    brought up to date; R4.5: a new SIGN in the same visit, with the new address."""
    holder = seed_holder(counter)
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}")
    page.locator("#event-move").click()
    page.get_by_label("新しい住所").fill("埼玉県川口市本町四丁目4番4号")
    page.shots("move-form")
    page.get_by_role("button", name="登録").click()
    ended = page.locator('#ended li[data-kind="sign"]')
    expect(ended).to_have_attribute("data-status", "revoked")
    expect(page.locator('#ended li[data-kind="auth"]')).to_have_count(0)  # R4.2
    expect(page.locator("#offer-reissue_after_change")).to_contain_text("R4.5")
    page.shots("move-registered")

    page.locator("#back-to-resident").click()
    expect(_cert_row(page, "sign")).to_have_attribute("data-status", "revoked")
    expect(_cert_row(page, "auth")).to_have_attribute("data-status", "good")
    expect(page.locator("#fact-address")).to_have_text("埼玉県川口市本町四丁目4番4号")
    expect(page.locator("#offer-particulars")).to_contain_text("R5.2")
    page.shots("sign-revoked")

    # Re-issue before the card face is updated: refused with its rule (R5.2).
    page.locator("#reissue-link").click()
    page.get_by_label("住民基本台帳用暗証番号（数字4桁、R1.6）").fill(PINS["card"])
    page.get_by_label("署名用電子証明書の暗証番号（英大文字と数字6〜16文字）").fill("NEWSIGN1")
    page.get_by_label("署名用の暗証番号（確認）").fill("NEWSIGN1")
    page.get_by_role("button", name="手続きを実行").click()
    expect(page.locator("#decision .rule-no")).to_have_text("R5.2")
    expect(page.locator("#decision")).to_contain_text("カードの記載事項変更")
    page.shots("reissue-refused-face")

    page.goto(f"/counter/residents/{holder.resident_id}/events/card_particulars")
    page.get_by_role("button", name="登録").click()
    expect(page.locator("#outcome")).to_contain_text("R5.2")
    page.goto(f"/counter/residents/{holder.resident_id}")
    page.locator("#reissue-link").click()
    page.get_by_label("住民基本台帳用暗証番号（数字4桁、R1.6）").fill(PINS["card"])
    page.get_by_label("署名用電子証明書の暗証番号（英大文字と数字6〜16文字）").fill("NEWSIGN1")
    page.get_by_label("署名用の暗証番号（確認）").fill("NEWSIGN1")
    page.get_by_role("button", name="手続きを実行").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "completed")
    page.locator("#back-to-resident").click()
    expect(_cert_row(page, "sign")).to_have_attribute("data-status", "good")  # the new SIGN
    expect(_cert_row(page, "sign", current=False)).to_have_attribute("data-status", "revoked")
    expect(_cert_row(page, "auth")).to_have_attribute("data-status", "good")
    page.shots("new-sign")
    # The new SIGN carries the new address (R1.2).
    from openjpki.pki import read_sign_facts
    serial = _cert_row(page, "sign").locator("code").inner_text()
    facts = read_sign_facts(counter.authority.get(serial).certificate)
    assert facts.address == "埼玉県川口市本町四丁目4番4号"
    # The audit trail of the resident shows the chain of events, with the clerk's name.
    page.locator("#audit-link").click()
    audit = page.locator("#audit")
    expect(audit).to_contain_text("register.move")
    expect(audit).to_contain_text("職員（clerk1）")


def test_bad_input_is_shown_beside_the_field_in_japanese_and_english(page, counter):
    """Every bad field says what is wrong next to it (R1.3 in the rule's words for a PIN),
    in Japanese, and in English after the switch; the page answers 422, never 500."""
    sign_in(page, CLERK)
    page.goto("/counter/residents/new")
    page.locator("#name").fill("山田　次郎")
    page.get_by_label("住所").fill("埼玉県川口市")
    page.get_by_label("生年月日").fill("2999-01-01")  # in the future
    page.get_by_role("button", name="登録").click()
    birth_field = page.locator(".field", has=page.locator("#birth_date"))
    expect(birth_field.locator(".field-error")).to_have_text(re.compile("未来の日付"))
    expect(page.locator("#birth_date")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#birth_date")).to_have_attribute("aria-describedby",
                                                          re.compile("birth_date-error"))
    sex_field = page.locator(".field", has=page.locator("#sex"))
    expect(sex_field.locator(".field-error")).to_have_text(re.compile("選択してください"))
    expect(page.locator("#name")).to_have_value("山田　次郎")  # what was typed is kept
    page.shots("errors-ja")

    holder = seed_holder(counter)
    page.goto(f"/counter/residents/{holder.resident_id}/procedures/pin_change")
    page.locator("#kind-auth").check()
    page.get_by_label("現在の暗証番号").fill(PINS["auth"])
    page.locator("#new_pin").fill("12AB")
    page.get_by_label("新しい暗証番号（確認）").fill("12AB")
    page.get_by_role("button", name="手続きを実行").click()
    pin_field = page.locator(".field", has=page.locator("#new_pin"))
    expect(pin_field.locator(".field-error")).to_contain_text("数字4桁")
    expect(pin_field.locator(".field-error")).to_contain_text("R1.3")

    page.locator("#lang-switch").click()  # English, remembered in a cookie
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.goto("/counter/residents/new")
    page.locator("#name").fill("山田　次郎")
    page.get_by_label("Address").fill("埼玉県川口市")
    page.get_by_label("Date of birth").fill("2999-01-01")
    page.get_by_role("button", name="Add").click()
    birth_field = page.locator(".field", has=page.locator("#birth_date"))
    expect(birth_field.locator(".field-error")).to_have_text(re.compile("cannot be in the future"))
    sex_field = page.locator(".field", has=page.locator("#sex"))
    expect(sex_field.locator(".field-error")).to_have_text(re.compile("Choose one"))
    page.shots("errors-en")


def test_r3_2_refusal_names_its_rule_and_the_opening_day(page, counter):
    """R3.2: a renewal before its window is refused; the page names the rule and the day it
    becomes possible (opens_on)."""
    holder = seed_holder(counter, birth=date(1970, 8, 20))
    sign_in(page, CLERK)
    page.goto(f"/counter/residents/{holder.resident_id}/procedures/renewal")
    page.get_by_label("住民基本台帳用暗証番号（数字4桁、R1.6）").fill(PINS["card"])
    page.get_by_label("署名用電子証明書の暗証番号（英大文字と数字6〜16文字）").fill("RENEW11")
    page.get_by_label("署名用の暗証番号（確認）").fill("RENEW11")
    page.get_by_label("利用者証明用電子証明書の暗証番号（数字4桁）").fill("1111")
    page.get_by_label("利用者証明用の暗証番号（確認）").fill("1111")
    page.get_by_role("button", name="手続きを実行").click()
    decision = page.locator("#decision")
    expect(decision.locator(".rule-no")).to_have_text("R3.2")
    # Expiry 2029-08-20 (5th birthday after issue, R2.1): renewal opens 2029-05-21 (R3.1).
    expect(decision.locator(".opens-on time")).to_have_attribute("datetime", "2029-05-21")
    page.shots("renewal-refused")


def test_sign_in_and_a_procedure_with_the_keyboard_only(page, counter):
    """Labelled fields, a visible focus ring, and the whole sign-in done with Tab and Enter."""
    page.goto("/counter")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.locator("a.skip")).to_be_focused()
    page.locator("#name").focus()
    page.keyboard.type(SUPERVISOR[0])
    page.keyboard.press("Tab")
    expect(page.locator("#password")).to_be_focused()
    outline = page.locator("#password").evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline not in ("none", ""), "focus must be visible"
    page.keyboard.type(SUPERVISOR[1])
    page.keyboard.press("Enter")
    page.wait_for_url("**/counter")
    # Every input, select and textarea of a procedure form has a <label for>.
    holder = seed_holder(counter)
    page.goto(f"/counter/residents/{holder.resident_id}/procedures/new_issuance"
              "?applicant=legal_representative")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll(
        'input:not([type=hidden]), select, textarea')].filter(
        e => !document.querySelector(`label[for="${e.id}"]`)).map(e => e.name)""")
    assert unlabelled == []
    page.shots("legal-representative-form")
    # Readable on a phone-sized screen: nothing wider than the viewport.
    page.set_viewport_size({"width": 400, "height": 800})
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 400
    page.shots("narrow")
