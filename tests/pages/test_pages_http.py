"""The pages over plain HTTP (httpx against the live server): CSRF protection on every POST,
the supervisor-only actions, the session cookie's flags and life, and a crawl of every page
URL with missing and malformed parameters and bodies — no page ever answers 500."""

from __future__ import annotations

import re

import httpx
import pytest

from .conftest import CLERK, SUPERVISOR
from .kit import PINS, clerk_client, csrf_of, seed_holder, text_of

FORBIDDEN = "403"


def _page_403(r: httpx.Response) -> None:
    assert r.status_code == 403, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("text/html")


# --- CSRF --------------------------------------------------------------------------------------------

def test_csrf_post_without_the_token_is_refused_with_a_403_page(base_url, counter):
    with clerk_client(base_url, CLERK) as c:
        body = {"name": "偽造　太郎", "address": "埼玉県川口市", "birth_date": "1980-01-01",
                "sex": "male"}
        for token in (None, "", "x" * 43, csrf_of(httpx.get(base_url + "/counter/login").text)):
            data = dict(body) if token is None else {**body, "csrf_token": token}
            r = c.post("/counter/residents/new", data=data)
            _page_403(r)
            assert "送信を受け付けられません" in r.text
        assert 'id="results"' not in c.get("/counter?q=偽造").text  # nothing registered
        # The same form with the session's token goes through.
        token = csrf_of(c.get("/counter/residents/new").text)
        assert c.post("/counter/residents/new", data={**body, "csrf_token": token}
                      ).status_code == 303
        assert 'id="results"' in c.get("/counter?q=偽造").text


@pytest.mark.parametrize("path", ["/counter/login", "/counter/logout", "/kiosk/app",
                                  "/kiosk/pin-reset", "/kiosk/konbini", "/portal/login",
                                  "/portal/logout", "/portal/pin-change",
                                  "/counter/deferred/1/requeue", "/counter/clerks"])
def test_csrf_every_post_needs_the_token(base_url, path):
    with clerk_client(base_url, SUPERVISOR) as c:
        r = c.post(path, data={"name": "boss", "password": SUPERVISOR[1]})
        _page_403(r)


# --- roles -----------------------------------------------------------------------------------------

def test_a_clerk_cannot_revoke_for_someone_else_a_supervisor_can(base_url, counter):
    """Supervisor only: a revocation or hold asked for by someone other than the holder."""
    holder = seed_holder(counter)
    form = {"applicant": "voluntary_proxy", "visit": "1", "kinds": "sign",
            "reason": "voluntary", "photo_id": "drivers_licence",
            "photo_valid_until": "2030-01-01"}
    url = f"/counter/residents/{holder.resident_id}/procedures/revocation"
    with clerk_client(base_url, CLERK) as c:
        token = csrf_of(c.get(url + "?applicant=voluntary_proxy").text)
        r = c.post(url, data={**form, "csrf_token": token})
        _page_403(r)
        assert "監督者" in r.text
        _page_403(c.post(f"/counter/residents/{holder.resident_id}/procedures/hold",
                         data={**form, "csrf_token": token}))
        _page_403(c.get("/counter/clerks"))
        # The holder's own request is a clerk's ordinary work.
        r = c.post(f"/counter/residents/{holder.resident_id}/procedures/hold",
                   data={"applicant": "holder", "kinds": "auth", "card_presented": "1",
                         "csrf_token": token})
        assert r.status_code == 200 and 'data-outcome="completed"' in r.text
    with clerk_client(base_url, SUPERVISOR) as c:
        token = csrf_of(c.get(url).text)
        r = c.post(url, data={**form, "csrf_token": token})
        assert r.status_code == 200, text_of(r.text)[:500]
        assert 'data-outcome="inquiry_mailed"' in r.text  # R5.4: the proxy's visit 1
        assert c.get("/counter/clerks").status_code == 200


def test_a_supervisor_adds_a_clerk_with_errors_beside_the_fields(base_url):
    with clerk_client(base_url, SUPERVISOR) as c:
        token = csrf_of(c.get("/counter/clerks").text)
        r = c.post("/counter/clerks", data={"csrf_token": token, "name": "Bad Name",
                                            "role": "clerk", "password": "short",
                                            "password2": "other"})
        assert r.status_code == 422
        assert 'id="name-error"' in r.text or 'id="password2-error"' in r.text
        r = c.post("/counter/clerks", data={"csrf_token": token, "name": "clerk2",
                                            "role": "clerk", "password": "short",
                                            "password2": "short"})
        assert r.status_code == 422 and 'id="password-error"' in r.text
        assert "10文字以上" in r.text
        r = c.post("/counter/clerks", data={"csrf_token": token, "name": "clerk2",
                                            "display_name": "二号", "role": "clerk",
                                            "password": "clerk2-password",
                                            "password2": "clerk2-password"})
        assert r.status_code == 303
        r = c.post("/counter/clerks", data={"csrf_token": token, "name": "clerk2",
                                            "role": "clerk", "password": "clerk2-password",
                                            "password2": "clerk2-password"})
        assert r.status_code == 422 and "既に使われています" in r.text
    with clerk_client(base_url, ("clerk2", "clerk2-password")) as c:
        assert c.get("/counter").status_code == 200


# --- the session ---------------------------------------------------------------------------------

def _session_cookie(r: httpx.Response) -> str:
    cookies = [v for k, v in r.headers.multi_items() if k.lower() == "set-cookie"
               and v.startswith("openjpki_session=")]
    assert cookies, r.headers
    return cookies[-1]


def test_session_cookie_is_httponly_samesite_lax_and_secure_over_https(base_url):
    r = httpx.get(base_url + "/counter/login")
    cookie = _session_cookie(r).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie
    # Behind a TLS proxy on loopback (uvicorn trusts X-Forwarded-Proto from 127.0.0.1).
    r = httpx.get(base_url + "/counter/login", headers={"X-Forwarded-Proto": "https"})
    assert "; secure" in _session_cookie(r).lower()


def test_signing_out_ends_the_session_and_a_forged_cookie_is_nobody(base_url):
    with clerk_client(base_url, CLERK) as c:
        stolen = c.cookies.get("openjpki_session")
        assert c.get("/counter").status_code == 200
        token = csrf_of(c.get("/counter").text)
        assert c.post("/counter/logout", data={"csrf_token": token}).status_code == 303
    replay = httpx.Client(base_url=base_url, cookies={"openjpki_session": stolen})
    r = replay.get("/counter")
    assert r.status_code == 303 and "/counter/login" in r.headers["location"]
    forged = stolen[:-3] + ("AAA" if not stolen.endswith("AAA") else "BBB")
    r = httpx.get(base_url + "/counter", cookies={"openjpki_session": forged})
    assert r.status_code == 303 and "/counter/login" in r.headers["location"]


def test_sign_in_does_not_redirect_off_site(base_url):
    c = httpx.Client(base_url=base_url)
    page = c.get("/counter/login", params={"next": "https://evil.example/x"}).text
    r = c.post("/counter/login", data={"name": CLERK[0], "password": CLERK[1],
                                       "csrf_token": csrf_of(page),
                                       "next": "//evil.example/x"})
    assert r.status_code == 303 and r.headers["location"] == "/counter"


def test_wrong_password_is_answered_beside_the_field(base_url):
    c = httpx.Client(base_url=base_url)
    token = csrf_of(c.get("/counter/login").text)
    r = c.post("/counter/login", data={"name": CLERK[0], "password": "wrong-password",
                                       "csrf_token": token})
    assert r.status_code == 401
    assert 'id="password-error"' in r.text and "パスワードが違います" in r.text
    assert "wrong-password" not in r.text


# --- crawl: no page answers 500 ---------------------------------------------------------------

BAD_IDS = ["0", "-1", "abc", "99999999", "1e3", "%00", "１", "9" * 30]
PROCEDURES = ["new_issuance", "renewal", "reissue_after_change", "pin_change", "pin_reset",
              "revocation", "hold", "unknown"]
EVENTS = ["move", "move_in", "name_change", "birth_date", "sex", "card_particulars", "nope"]
JUNK = {"applicant": "bogus", "visit": "9", "kinds": ["zzz", "sign", "sign"],
        "declined": ["sign", "auth"], "new_card": "1", "reason": "because",
        "photo_id": "bogus", "photo_valid_until": "2025-02-30", "photo_issued_on": "9999-01-01",
        "representative_id": "-5", "reference": "<script>alert(1)</script>",
        "card_pin": "\u0000" * 3, "sign_pin": "x" * 100, "auth_pin": "１２３４",
        "new_pin": "", "kind": "card", "birth_date": "yesterday", "sex": "7",
        "address": "a" * 500, "name": "\u0001", "stay_until": "2020-01-01",
        "card_number": "'; DROP TABLE cards; --", "target": "card", "other_pin": "0" * 70,
        "answer": "{not json", "signature": "!!!", "certificate": "-----BEGIN nothing",
        "method": "reader", "role": "admin", "password": "", "state": "x",
        "household_id": "h" * 100, "relationship": "boss", "former_surname": "\u0002"}


def _urls(resident_id: int) -> list[str]:
    urls = ["/counter", "/counter?q=" + "長" * 300, "/counter?q=%00", "/counter?lang=xx",
            "/counter/login?next=http://evil.example", "/counter/residents",
            "/counter/residents?q=%ff", "/counter/residents/new", "/counter/deferred",
            "/counter/deferred?state=bogus", "/counter/clerks", "/counter/nowhere",
            "/kiosk", "/kiosk?lang=en", "/kiosk/app", "/kiosk/pin-reset", "/kiosk/konbini",
            "/kiosk/konbini/KON-NOPE.pdf", "/kiosk/konbini/..%2F..%2Fetc%2Fpasswd",
            "/kiosk/konbini/x", "/kiosk/nowhere", "/portal", "/portal?lang=en",
            "/portal/challenge.txt", "/portal/pin-change", "/portal/nowhere",
            "/static/pages.css", "/static/nothing.css"]
    for rid in BAD_IDS:  # an unknown resident: every page under it answers 404 the same way
        urls += [f"/counter/residents/{rid}", f"/counter/residents/{rid}/audit",
                 f"/counter/residents/{rid}/procedures/new_issuance",
                 f"/counter/residents/{rid}/events/move"]
    rid = str(resident_id)
    urls += [f"/counter/residents/{rid}", f"/counter/residents/{rid}/audit"]
    for p in PROCEDURES:
        urls.append(f"/counter/residents/{rid}/procedures/{p}")
        urls.append(f"/counter/residents/{rid}/procedures/{p}?applicant=voluntary_proxy"
                    "&visit=2&reference=<b>x</b>")
        urls.append(f"/counter/residents/{rid}/procedures/{p}?applicant=zz&visit=zz")
    urls += [f"/counter/residents/{rid}/events/{e}" for e in EVENTS]
    return urls


def _posts(resident_id: int) -> list[tuple[str, bool]]:
    """(path, whether to send the empty body too) — the junk body goes everywhere."""
    posts = [(p, True) for p in (
        "/counter/login", "/counter/residents/new", "/counter/clerks",
        "/counter/deferred/1/requeue", "/counter/deferred/abc/requeue", "/kiosk/app",
        "/kiosk/pin-reset", "/kiosk/konbini", "/portal/login", "/portal/pin-change",
        "/portal/logout")]
    posts += [(f"/counter/residents/{resident_id}/procedures/{p}", True) for p in PROCEDURES]
    posts += [(f"/counter/residents/{resident_id}/events/{e}", True) for e in EVENTS]
    for rid in ("0", "abc"):
        posts += [(f"/counter/residents/{rid}/procedures/{p}", False) for p in PROCEDURES[:2]]
        posts += [(f"/counter/residents/{rid}/events/{e}", False) for e in EVENTS[:2]]
    return posts


@pytest.mark.slow
def test_crawl_every_page_with_bad_and_missing_params_never_500(base_url, counter):
    holder = seed_holder(counter)
    checked = 0
    for who in (None, SUPERVISOR):
        with clerk_client(base_url, who) as c:
            for url in _urls(holder.resident_id):
                r = c.get(url)
                assert r.status_code < 500, (who, url, r.status_code, text_of(r.text)[:300])
                if who and url.split("?")[0].rstrip("/").split("/")[3:4] in (
                        [b] for b in BAD_IDS):
                    assert r.status_code == 404, (url, r.status_code)  # never another's page
                assert "<script>alert" not in r.text and "<b>x</b>" not in r.text, url
                checked += 1
            token = csrf_of(c.get("/counter/login").text)
            for url, empty_too in _posts(holder.resident_id):
                bodies = [{**JUNK, "csrf_token": token}]
                if empty_too:
                    bodies.append({"csrf_token": token})
                for body in bodies:
                    r = c.post(url, data=body)
                    assert r.status_code < 500, (who, url, r.status_code,
                                                 text_of(r.text)[:300])
                    assert "<script>alert" not in r.text, url
                    checked += 1
                r = c.post(url, content=b"\xff\xfe garbage",
                           headers={"content-type": "multipart/form-data; boundary=x"})
                assert r.status_code < 500, (url, r.status_code)
            r = c.request("PUT", "/counter")
            assert r.status_code == 405 and r.headers["content-type"].startswith("text/html")
    assert checked > 250
    # The holder's certificates are untouched by all that junk.
    from openjpki.services.counter import show_resident
    certs = show_resident(counter, holder.resident_id)["cards"][0]["certificates"]
    assert {c["status"] for c in certs} == {"good"}


def test_unknown_page_paths_answer_html_and_the_api_keeps_problem_json(base_url):
    r = httpx.get(base_url + "/counter/residents/1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    r = httpx.get(base_url + "/api/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_pages_are_japanese_first_and_english_when_asked(base_url):
    c = httpx.Client(base_url=base_url)
    ja = c.get("/counter/login")
    assert '<html lang="ja">' in ja.text and "職員ログイン" in ja.text
    en = c.get("/counter/login?lang=en")
    assert '<html lang="en">' in en.text and "Clerk sign-in" in en.text
    assert "職員ログイン" not in en.text
    again = c.get("/kiosk")  # remembered by the cookie
    assert '<html lang="en">' in again.text and "Kiosk" in again.text
    for path in ("/kiosk", "/portal", "/counter/login"):
        r = c.get(path)
        # Every label in English: no kana left (the switch back to 日本語 aside).
        assert re.search(r"[\u3040-\u30ff]", text_of(r.text).replace("日本語", "")) is None, path


def test_r5_9_work_deferred_while_the_authorities_are_off_is_on_the_queue_page(base_url,
                                                                              counter):
    """R5.9: with the authorities switched off, an issuance is accepted for later (the card
    and the sealed PINs kept); the result page and the queue page say so."""
    holder = seed_holder(counter, declined=("sign",))
    url = f"/counter/residents/{holder.resident_id}/procedures/new_issuance"
    with clerk_client(base_url, CLERK) as c:
        assert c.put("/api/authorities/availability",
                     json={"available": False, "reason": "maintenance"}).status_code == 200
        try:
            token = csrf_of(c.get(url).text)
            r = c.post(url, data={"applicant": "holder", "kinds": "sign",
                                  "card_pin": PINS["card"], "sign_pin": "LATER11",
                                  "sign_pin2": "LATER11", "csrf_token": token})
            assert r.status_code == 200 and 'data-outcome="deferred"' in r.text, \
                text_of(r.text)[:400]
            assert "R5.9" in r.text and "LATER11" not in r.text
            queue = c.get("/counter/deferred?state=queued")
            assert queue.status_code == 200
            assert f'/counter/residents/{holder.resident_id}"' in queue.text
            assert 'id="authorities-unavailable"' in queue.text
            assert "LATER11" not in queue.text
        finally:
            c.put("/api/authorities/availability", json={"available": True})


def test_pages_of_a_home_not_initialised_answer_503_not_500(tmp_path):
    from fastapi.testclient import TestClient

    from openjpki.config import Settings
    from openjpki.web import create_app

    app = create_app(Settings.resolve(tmp_path / "empty"))
    with TestClient(app, raise_server_exceptions=False) as c:
        token = csrf_of(c.get("/counter/login").text)
        r = c.post("/counter/login", data={"name": "boss", "password": "x" * 12,
                                           "csrf_token": token})
        assert r.status_code == 503 and "openjpki init" in r.text
        assert c.get("/kiosk").status_code == 503
        assert c.get("/portal").status_code == 200  # the log-in page needs no store
    assert not (tmp_path / "empty" / "openjpki.sqlite3").exists()


def test_production_mode_does_not_read_cards_named_by_number(home, monkeypatch):
    """The kiosk pages and the portal's reader log-in open cards on the server: a sandbox
    convenience, refused in production mode (the paste log-in still works)."""
    from fastapi.testclient import TestClient

    from openjpki.web import create_app

    monkeypatch.setenv("OPENJPKI_SERVICE_MODE", "production")
    with TestClient(create_app(home), raise_server_exceptions=False) as c:
        token = csrf_of(c.get("/portal").text)
        for path, body in (("/kiosk/pin-reset", {"card_number": "1", "target": "auth",
                                                 "other_pin": "ABC123", "new_pin": "1111",
                                                 "new_pin2": "1111"}),
                           ("/kiosk/app", {"card_number": "1", "target": "auth",
                                           "other_pin": "ABC123"}),
                           ("/kiosk/konbini", {"card_number": "1", "auth_pin": "1234"}),
                           ("/portal/login", {"method": "reader", "card_number": "1",
                                              "auth_pin": "1234"})):
            r = c.post(path, data={**body, "csrf_token": token})
            assert r.status_code == 403 and "サンドボックスモードでのみ" in r.text, path
        token = csrf_of(c.get("/portal").text)
        r = c.post("/portal/login", data={"method": "paste", "answer": "{}",
                                          "csrf_token": token})
        assert r.status_code == 401  # checked, not refused for the mode


def test_r5_8_outside_office_hours_the_refusal_says_when_the_counter_opens(base_url, counter,
                                                                           clock):
    """R5.8: city hall works weekdays 8:30–17:15; at 18:00 a PIN reset is refused and the page
    gives the next opening (the next morning)."""
    from datetime import datetime

    from openjpki.rules import JST

    holder = seed_holder(counter)
    clock.now = datetime(2025, 4, 1, 18, 0, tzinfo=JST)
    url = f"/counter/residents/{holder.resident_id}/procedures/pin_reset"
    with clerk_client(base_url, CLERK) as c:
        token = csrf_of(c.get(url).text)
        r = c.post(url, data={"applicant": "holder", "kind": "auth", "card_pin": PINS["card"],
                              "new_pin": "4321", "new_pin2": "4321", "csrf_token": token})
    assert r.status_code == 409
    assert re.search(r'class="rule-no">R5\.8<', r.text)
    assert 'datetime="2025-04-02T08:30:00+09:00"' in r.text
