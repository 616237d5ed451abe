"""The kiosk's and the holder's pages in a real browser: a PIN reset with the smartphone app
then the kiosk within its hours (R6.2–R6.5), the refusal screen outside them (R6.4, R7.2),
convenience-store issuance (R7.1), and the holder portal — log-in with the card's AUTH
signature over the page's challenge, both certificates with status and tries left, a PIN
change (R8.1)."""

from __future__ import annotations

import base64
import json
from datetime import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from openjpki.rules import JST

from .kit import PINS, pin_works, seed_holder

expect = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')").expect


def test_r6_2_kiosk_pin_reset_after_the_app_step(page, counter, clock):
    """R6.2: the app checks the AUTH PIN and the face, then within 24 hours the kiosk sets a
    new SIGN PIN; the lock and the count are cleared (R6.5). Clock inside kiosk hours."""
    holder = seed_holder(counter)
    clock.now = datetime(2025, 4, 5, 21, 30, tzinfo=JST)  # a Saturday evening: kiosk open
    page.goto("/kiosk")
    expect(page.locator("#kiosk-closed")).to_have_count(0)
    page.shots("kiosk-menu")
    page.locator("#menu-app").click()
    page.get_by_label("カード番号").fill(holder.card_number)
    page.locator("#target-sign").check()
    page.get_by_label("もう一方の暗証番号").fill(PINS["auth"])
    page.get_by_label("顔写真と本人の顔が一致", exact=False).check()
    page.get_by_role("button", name="本人確認").click()
    outcome = page.locator("#outcome")
    expect(outcome).to_have_attribute("data-outcome", "reset_prepared")
    expect(outcome).to_have_attribute("data-rule", "R6.2")  # kept, not shown to the public
    expect(page.locator("#expires-at")).to_have_text("2025年4月6日 21:30")  # 24 hours later
    page.shots("app-step-done")

    clock.now = datetime(2025, 4, 6, 7, 0, tzinfo=JST)  # next morning, within 24 h
    page.locator("#next-link").click()
    page.get_by_label("カード番号", exact=False).fill(holder.card_number)
    page.locator("#target-sign").check()
    page.get_by_label("もう一方の暗証番号").fill(PINS["auth"])
    page.locator("#new_pin").fill("KIOSK77")
    page.locator("#new_pin2").fill("KIOSK77")
    page.shots("kiosk-step-form")
    page.get_by_role("button", name="再設定").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "pin_reset")
    page.shots("kiosk-step-done")
    assert pin_works(counter, holder, "sign", "KIOSK77")


def test_r6_4_r7_2_kiosk_closed_outside_its_hours(page, counter, clock):
    """R6.4, R7.2: at 23:30 the kiosk shows its refusal screen naming both rules and when it
    opens again; a reset tried anyway is refused by R6.4 with the card untouched."""
    holder = seed_holder(counter)
    clock.now = datetime(2025, 4, 1, 23, 30, tzinfo=JST)
    page.goto("/kiosk")
    closed = page.locator("#kiosk-closed")
    expect(closed.locator('[data-rule="R6.4"]')).to_have_count(1)
    expect(closed.locator('[data-rule="R7.2"]')).to_have_count(1)
    expect(closed).not_to_contain_text("R6.4")  # no rule numbers at the kiosk
    expect(closed.locator("time").first).to_have_attribute("datetime",
                                                           "2025-04-02T06:30:00+09:00")
    page.shots("kiosk-closed")
    page.goto("/kiosk/pin-reset")
    page.get_by_label("カード番号", exact=False).fill(holder.card_number)
    page.locator("#target-auth").check()
    page.get_by_label("もう一方の暗証番号").fill(PINS["sign"])
    page.locator("#new_pin").fill("9999")
    page.locator("#new_pin2").fill("9999")
    page.get_by_role("button", name="再設定").click()
    expect(page.locator("#decision")).to_have_attribute("data-rule", "R6.4")
    assert pin_works(counter, holder, "auth", PINS["auth"])


def test_r7_1_convenience_store_issuance(page, counter):
    """R7.1: log in with the AUTH PIN on the card and receive the certificate of residence
    as a PDF (only in the session that printed it)."""
    holder = seed_holder(counter)
    page.goto("/kiosk/konbini")
    page.get_by_label("カード番号", exact=False).fill(holder.card_number)
    page.get_by_label("利用者証明用の暗証番号", exact=False).fill("0000")  # wrong: R1.4
    page.get_by_role("button", name="交付").click()
    expect(page.locator("#decision")).to_have_attribute("data-rule", "R1.4")
    page.get_by_label("利用者証明用の暗証番号", exact=False).fill(PINS["auth"])
    page.get_by_role("button", name="交付").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "issued")
    href = page.locator("#pdf-link").get_attribute("href")
    response = page.request.get(href)
    assert response.status == 200 and response.body().startswith(b"%PDF")
    page.shots("konbini-issued")
    other = page.context.browser.new_context(base_url=page.url.split("/kiosk")[0])
    try:
        assert other.request.get(href).status == 404  # not for another session
    finally:
        other.close()


def _sign_challenge(counter, holder, challenge: str, pin: str = PINS["auth"]) -> str:
    """What ``openjpki client sign --key auth --pin … challenge.txt --json`` prints, made
    with the holder's card through its APDU interface."""
    from openjpki.card import sign_file_data

    vc = counter.cards.open(holder.virtual_card_id)
    try:
        vc.power_on()
        signature, der = sign_file_data(vc, "auth", pin, challenge.encode())
    finally:
        vc.close()
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    return json.dumps({"signature": base64.b64encode(signature).decode(),
                       "certificate": pem.decode()})


def test_r8_1_portal_login_certificates_and_pin_change(page, counter):
    """R8.1: the holder logs in with the card (AUTH signature over the page's challenge),
    sees both certificates with validity, status and tries left, and changes a PIN."""
    holder = seed_holder(counter)
    page.goto("/portal")
    challenge = page.locator("#challenge").inner_text()
    download = page.request.get("/portal/challenge.txt")
    assert download.text() == challenge  # the file the holder signs
    # A signature over something else does not log in.
    page.get_by_label("表示された結果（全体をそのまま貼り付け）").fill(_sign_challenge(counter, holder, "not it"))
    page.get_by_role("button", name="ログイン", exact=True).click()
    expect(page.locator(".field", has=page.locator("#answer")).locator(".field-error")
           ).to_contain_text("チャレンジ")
    challenge = page.locator("#challenge").inner_text()  # a fresh one, after the failure
    page.get_by_label("表示された結果（全体をそのまま貼り付け）").fill(_sign_challenge(counter, holder, challenge))
    page.shots("portal-login")
    page.get_by_role("button", name="ログイン", exact=True).click()

    for kind in ("sign", "auth"):
        panel = page.locator(f"#cert-{kind}")
        expect(panel).to_have_attribute("data-status", "good")
        expect(panel).to_contain_text("2029年5月15日")  # R2.1: the 5th birthday after issue
    expect(page.locator("#cert-sign")).to_contain_text("埼玉県川口市青木二丁目1番1号")  # R1.2
    expect(page.locator("#cert-auth .tries")).to_have_attribute("data-tries", "3")
    expect(page.locator("#cert-sign .tries")).to_have_attribute("data-tries", "5")
    page.shots("portal-home", full=True)

    page.locator("#pin-change-link").click()
    page.locator("#kind-auth").check()
    page.get_by_label("現在の暗証番号").fill("0000")  # wrong: a try is used (R1.4)
    page.locator("#new_pin").fill("2580")
    page.locator("#new_pin2").fill("2580")
    page.get_by_role("button", name="変更").click()
    expect(page.locator(".field", has=page.locator("#current_pin")).locator(".field-error")
           ).to_contain_text("残り 2 回")
    page.locator("#kind-auth").check()
    page.get_by_label("現在の暗証番号").fill(PINS["auth"])
    page.locator("#new_pin").fill("2580")
    page.locator("#new_pin2").fill("2580")
    page.get_by_role("button", name="変更").click()
    expect(page.locator("#outcome")).to_have_attribute("data-outcome", "pin_changed")
    page.shots("pin-changed")
    assert pin_works(counter, holder, "auth", "2580")
    page.goto("/portal")
    expect(page.locator("#cert-auth .tries")).to_have_attribute("data-tries", "3")  # R1.7

    # A revoked AUTH certificate no longer logs in.
    page.locator("#portal-logout").click()
    from openjpki.services.counter import revoke
    revoke(counter, holder.resident_id, now=datetime(2025, 4, 1, 11, 0, tzinfo=JST),
           kinds=("auth",))
    challenge = page.locator("#challenge").inner_text()
    page.get_by_label("表示された結果（全体をそのまま貼り付け）").fill(_sign_challenge(counter, holder, challenge, "2580"))
    page.get_by_role("button", name="ログイン", exact=True).click()
    expect(page.locator(".field", has=page.locator("#answer")).locator(".field-error")
           ).to_contain_text("失効")
    page.shots("revoked-auth-refused")
