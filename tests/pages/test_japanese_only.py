"""Every page in Japanese says everything in Japanese: no English sentence, no internal code
(reason, state, procedure, applicant type, relation, queue state), no ISO date — only proper
nouns, allow-listed terms, rule numbers on the clerks' pages, and codes the user must type
(``<code>``). The same pages with ``?lang=en`` are in English.

The pages are fetched over HTTP from the live server after seeding residents in many states
through the services: a card after a move (SIGN revoked), a voluntary proxy's first visit
(the inquiry letter), a lost card replaced for a fee (R3.6), a locked AUTH PIN, a child, an
adult ward, a foreign resident after a stay extension, and an expiry notice on file."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from openjpki.rules.documents import PhotoId, PresentedId, Procedure

from .conftest import CLERK, SUPERVISOR, T0
from .kit import PINS, clerk_client, csrf_of, seed_holder, unique_name
from .latin import stray_latin, visible_text

ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@pytest.fixture(scope="module")
def people(counter):
    """Residents in many states, seeded through the services."""
    from openjpki.services.counter import (
        ApplicantInput, CounterRequest, PinEntry, ResidentInput, add_resident, apply, revoke,
    )
    from openjpki.services.register import move
    from openjpki.services.register_stay import extend_stay

    moved = seed_holder(counter, name=unique_name("転居"))
    move(counter, moved.resident_id, "埼玉県川口市本町四丁目4番4号", T0, postal_code="3320012")
    proxy = seed_holder(counter, name=unique_name("代理"))
    licence = PresentedId(PhotoId.DRIVERS_LICENCE, valid_until=date(2030, 1, 1))
    visit1 = apply(counter, CounterRequest(
        "pin_reset", proxy.resident_id, kinds=("auth",),
        applicant=ApplicantInput(type="voluntary_proxy", ids=(licence,))), now=T0)
    assert visit1.outcome == "inquiry_mailed", visit1
    lost = seed_holder(counter, name=unique_name("紛失"))
    assert revoke(counter, lost.resident_id, now=T0, reason="lost_card").outcome == "completed"
    replaced = apply(counter, CounterRequest("new_issuance", lost.resident_id, new_card=True),
                     PinEntry(card=PINS["card"], sign=PINS["sign"], auth=PINS["auth"]), now=T0)
    assert replaced.details["fee"] == 200, replaced  # R3.6
    locked = seed_holder(counter, name=unique_name("施錠"))
    status = counter.cards.open(locked.virtual_card_id)
    try:
        from openjpki.card import JpkiClient, PinBlocked, WrongPin

        status.power_on()
        client = JpkiClient(status)
        client.select_jpki()
        for _ in range(3):  # R1.4: three wrong AUTH PINs lock it
            try:
                client.verify_pin("auth", "0000")
            except (WrongPin, PinBlocked):
                pass
    finally:
        status.close()
    child = add_resident(counter, ResidentInput(
        name=unique_name("子ども"), address="埼玉県川口市青木二丁目1番1号",
        birth_date=date(2015, 6, 1), sex="male", relationship="child"), T0)["id"]
    ward = add_resident(counter, ResidentInput(
        name=unique_name("後見"), address="埼玉県川口市青木二丁目1番1号",
        birth_date=date(1950, 1, 1), sex="female", adult_ward=True), T0)["id"]
    foreign = add_resident(counter, ResidentInput(
        name="スミス　ジョン", address="埼玉県川口市栄町三丁目3番3号", birth_date=date(1990, 3, 3),
        sex="male", foreign_resident=True, stay_until=T0.date() + timedelta(days=60),
        alias="山田　次郎"), T0)["id"]
    counter_new = apply(counter, CounterRequest("new_issuance", foreign, new_card=True),
                        PinEntry(card=PINS["card"], sign=PINS["sign"], auth=PINS["auth"]),
                        now=T0)
    assert counter_new.outcome == "completed", counter_new
    extend_stay(counter, foreign, T0.date() + timedelta(days=800), T0)
    from openjpki.services.deferred import defer

    waiting = seed_holder(counter, name=unique_name("保留"))
    kept = defer(counter, CounterRequest("pin_reset", waiting.resident_id, kinds=("auth",)),
                 PinEntry(card=PINS["card"], auth="2468"), now=T0,
                 reason="authorities offline: 定期保守")  # R5.9: shown as words
    assert kept.outcome == "deferred", kept
    return {"moved": moved.resident_id, "waiting": waiting.resident_id, "proxy": proxy.resident_id, "lost": lost.resident_id,
            "locked": locked.resident_id, "child": child, "ward": ward, "foreign": foreign,
            "letter": visit1.letter_id}


def _counter_paths(people: dict) -> list[str]:
    paths = ["/counter", "/counter?q=" + "試験", "/counter/residents/new",
             "/counter/deferred", "/counter/reports/fees", "/counter/nowhere"]
    for key, rid in people.items():
        if key == "letter":
            continue
        base = f"/counter/residents/{rid}"
        paths += [base, base + "/audit", base + "/juki-card"]
    rid = people["moved"]
    base = f"/counter/residents/{rid}"
    for p in Procedure:
        paths += [f"{base}/procedures/{p.value}",
                  f"{base}/procedures/{p.value}?applicant=legal_representative",
                  f"{base}/procedures/{p.value}?applicant=voluntary_proxy",
                  f"{base}/procedures/{p.value}?applicant=voluntary_proxy&visit=2"]
    for slug in ("move", "move_in", "name_change", "birth_date", "sex", "card_particulars",
                 "stay_extension"):
        paths.append(f"{base}/events/{slug}")
    paths.append(f"/counter/residents/{people['child']}/procedures/new_issuance"
                 "?applicant=legal_representative")
    return paths


PUBLIC = ["/", "/counter/login", "/kiosk", "/kiosk/pin-reset", "/kiosk/konbini", "/kiosk/app",
          "/portal", "/kiosk/nowhere"]


def _check(html: str, path: str, *, rules_allowed: bool) -> list[str]:
    text = visible_text(html)
    problems = [f"{path}: {w!r}" for w in stray_latin(text, rules_allowed=rules_allowed)]
    problems += [f"{path}: ISO date {d!r}" for d in ISO_DATE.findall(text)]
    return problems


def test_every_page_is_japanese(base_url, people):
    problems: list[str] = []
    with clerk_client(base_url, SUPERVISOR) as c:
        for path in _counter_paths(people):
            r = c.get(path)
            assert r.status_code in (200, 404, 409), (path, r.status_code)
            problems += _check(r.text, path, rules_allowed=True)
        # Results of procedures and events, refusals and errors beside their fields.
        rid = people["moved"]
        form = c.get(f"/counter/residents/{rid}/procedures/renewal?applicant=voluntary_proxy")
        r = c.post(f"/counter/residents/{rid}/procedures/renewal", data={
            "csrf_token": csrf_of(form.text), "applicant": "voluntary_proxy", "visit": "1",
            "photo_id": "drivers_licence", "photo_valid_until": "2030-01-01"})
        problems += _check(r.text, "visit-1 result", rules_allowed=True)
        r = c.post(f"/counter/residents/{rid}/procedures/new_issuance", data={
            "csrf_token": csrf_of(form.text), "applicant": "holder", "kinds": "sign",
            "card_pin": "12", "sign_pin": "abc"})
        assert r.status_code == 422
        problems += _check(r.text, "refused form", rules_allowed=True)
        form = c.get(f"/counter/residents/{rid}/events/move")
        r = c.post(f"/counter/residents/{rid}/events/move", data={
            "csrf_token": csrf_of(form.text), "address": "埼玉県川口市本町五丁目5番5号",
            "postal_code": "332-0012"})
        assert r.status_code == 200, r.text
        problems += _check(r.text, "move result", rules_allowed=True)
        # R5.6: a child's SIGN by way of exception, the holder and the parent together.
        child = people["child"]
        form = c.get(f"/counter/residents/{child}/procedures/new_issuance"
                     "?applicant=legal_representative")
        r = c.post(f"/counter/residents/{child}/procedures/new_issuance", data={
            "csrf_token": csrf_of(form.text), "applicant": "legal_representative",
            "new_card": "1", "kinds": ["sign", "auth"], "sign_exception": "1",
            "holder_present": "1", "proofs": "family_register_certificate",
            "photo_id": "drivers_licence", "photo_valid_until": "2030-01-01",
            "card_pin": PINS["card"], "sign_pin": PINS["sign"], "sign_pin2": PINS["sign"],
            "auth_pin": PINS["auth"], "auth_pin2": PINS["auth"]})
        assert 'data-outcome="completed"' in r.text, visible_text(r.text)[:2000]
        assert 'id="fee" data-yen="0"' in r.text  # R3.6: free
        problems += _check(r.text, "R5.6 result", rules_allowed=True)
        foreign = people["foreign"]
        form = c.get(f"/counter/residents/{foreign}/events/stay_extension")
        r = c.post(f"/counter/residents/{foreign}/events/stay_extension", data={
            "csrf_token": csrf_of(form.text),
            "stay_until": (T0.date() + timedelta(days=1500)).isoformat()})
        assert r.status_code == 200, r.text
        problems += _check(r.text, "stay extension result", rules_allowed=True)
        queue = visible_text(c.get("/counter/deferred").text)
        assert "認証局の停止中（定期保守）" in queue or "完了" in queue  # R5.9, in words
        assert "暗証番号の初期化（再設定）" in queue
        for path in ["/counter/clerks"]:
            problems += _check(c.get(path).text, path, rules_allowed=True)
    with clerk_client(base_url, None) as c:
        for path in PUBLIC:
            r = c.get(path)
            assert r.status_code in (200, 404), (path, r.status_code)
            problems += _check(r.text, path, rules_allowed=path == "/counter/login")
    assert problems == [], "\n".join(problems)


def test_english_stays_with_lang_en(base_url, people):
    with clerk_client(base_url, CLERK) as c:
        r = c.get(f"/counter/residents/{people['moved']}?lang=en")
        text = visible_text(r.text)
        assert "Cards and certificates" in text and "recorded facts changed" in text
        assert "2029-05-15" in text  # dates as ISO in English
        r = c.get("/?lang=en")
        assert "What runs here" in visible_text(r.text)
