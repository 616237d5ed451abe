"""Moving the sandbox clock, as if that day had come: certificates expire (openssl verify
-attime, openjpki verify, OCSP answered at the new time), OCSP and CRL dates follow the clock
and no answer made at another position is served again, and the counter's renewal window
(R3.1) opens — refused before with R3.2 and its opening day, done inside it."""

from __future__ import annotations

import urllib.request
from datetime import date, datetime, time, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from openjpki.card import CardStore, sign_file_data
from openjpki.rules import JST
from openjpki.rules.calendars import default_calendar
from openjpki.services.authority_home import open_authorities
from openjpki.services.demo import DEMO_PINS

from .kit import (
    LiveServer, free_socket, http_json, make_home, openssl_ocsp, real_now, run, sandbox_app,
    write_pem,
)

pytestmark = pytest.mark.interop


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    home = tmp_path_factory.mktemp("time") / "home"
    settings = make_home(home, url)
    server = LiveServer(sandbox_app(settings), sock).start()
    service = open_authorities(settings)
    try:
        yield url, home, settings, service
    finally:
        server.stop()
        service.store.dispose()


@pytest.fixture(autouse=True)
def _real_clock(live):
    yield
    assert http_json("DELETE", live[0] + "/api/sandbox/time")[0] == 200


def _resident(live, *states):
    code, body = http_json("POST", live[0] + "/api/sandbox/residents", {"states": list(states)})
    assert code == 201, body
    return body["residents"][0]


def _sandbox_now(live) -> datetime:
    return datetime.fromisoformat(http_json("GET", live[0] + "/api/sandbox/time")[1]["now"])


def _ocsp_answer(live, serial: str, kind: str) -> ocsp.OCSPResponse:
    url, _, _, service = live
    cert = service.get(serial).certificate
    req = (ocsp.OCSPRequestBuilder().add_certificate(cert, service.root(kind), hashes.SHA1())
           .build().public_bytes(serialization.Encoding.DER))
    http = urllib.request.Request(url + "/ocsp", data=req,
                                  headers={"Content-Type": "application/ocsp-request"})
    with urllib.request.urlopen(http, timeout=30) as r:
        return ocsp.load_der_ocsp_response(r.read())


def test_R2_3_past_the_expiry_openssl_openjpki_verify_and_ocsp_see_it_expired(cli, live, tmp_path):
    url, home, settings, service = live
    made = _resident(live, "renewal_window")  # both certificates end with the stay, in 45 days
    auth = next(c for c in made["certificates"] if c["kind"] == "auth")
    pem = write_pem(tmp_path / "auth.pem", service.get(auth["serial"]).pem)
    data = tmp_path / "challenge.txt"
    data.write_bytes("ログインのチャレンジ / a log-in challenge\n".encode())
    card = CardStore(settings.cards_dir).open(made["card_id"])
    try:
        card.power_on()
        signature, _ = sign_file_data(card, "auth", DEMO_PINS["auth"], data.read_bytes())
    finally:
        card.close()
    (tmp_path / "sig.bin").write_bytes(signature)
    verify = ("verify", "--signature", str(tmp_path / "sig.bin"), "--certificate", str(pem),
              str(data), "--json")

    now = cli(home, "sandbox", "time", "show", "--json").json()["now"]
    r = cli(home, *verify, "--at", now)
    assert r.code == 0 and r.json()["status"] == "good", r.out + r.err

    r = cli(home, "sandbox", "time", "advance", "46d", "--json")
    now = r.json()["now"]
    moment = datetime.fromisoformat(now)
    not_after = datetime.fromisoformat(auth["not_after"] + "T23:59:59+09:00")
    assert moment > not_after

    # openjpki verify at the sandbox's now: expired (from the store, and over OCSP)
    r = cli(home, *verify, "--at", now)
    assert r.code == 1 and r.json()["status"] == "expired", r.out
    r = cli(home, *verify, "--at", now, "--ocsp", url + "/ocsp")
    assert r.code == 1 and r.json()["status"] == "expired", r.out
    # openssl at the sandbox's now: the certificate has expired
    out = run("openssl", "verify", "-attime", str(int(moment.timestamp())), "-CAfile",
              home / "auth-root.pem", pem)
    assert out.returncode != 0 and "certificate has expired" in out.stdout + out.stderr
    # the running responder answers at the sandbox's now, after the certificate's end
    out = openssl_ocsp(url, home, "auth", pem, "-validity_period", str(100 * 86400))
    text = out.stdout + out.stderr
    assert "Response verify OK" in text, text
    this_update = datetime.strptime(text.split("This Update: ")[1].split(" GMT")[0],
                                    "%b %d %H:%M:%S %Y").replace(tzinfo=timezone.utc)
    assert abs(this_update - moment) < timedelta(minutes=1) and this_update > not_after
    # a relying party on the real clock sees an answer from the future
    out = openssl_ocsp(url, home, "auth", pem)
    assert "Status times invalid" in out.stdout + out.stderr


def test_ocsp_and_crl_dates_follow_the_clock_and_nothing_is_served_from_another_position(live):
    url, home, settings, service = live
    made = _resident(live, "valid")
    serial = made["certificates"][0]["serial"]
    kind = made["certificates"][0]["kind"]
    first = _ocsp_answer(live, serial, kind)
    assert _ocsp_answer(live, serial, kind).this_update_utc == first.this_update_utc  # cached
    for step in ({"by": "10m"}, {"by": "-2h"}):  # inside the validity, and back in time
        before = _sandbox_now(live)
        assert http_json("POST", url + "/api/sandbox/time/advance", step)[0] == 200
        answer = _ocsp_answer(live, serial, kind)
        expected = before + (timedelta(minutes=10) if step["by"] == "10m" else -timedelta(hours=2))
        assert abs(answer.this_update_utc - expected) < timedelta(seconds=30), step
        assert abs(answer.produced_at_utc - expected) < timedelta(seconds=30)
        assert answer.next_update_utc - answer.this_update_utc == timedelta(hours=1)
    http_json("PUT", url + "/api/sandbox/time", {"now": "2030-05-07T10:00:00+09:00",
                                                  "freeze": True})
    with urllib.request.urlopen(url + f"/crl/{kind}.crl", timeout=30) as r:
        crl = x509.load_der_x509_crl(r.read())
    assert crl.last_update_utc == datetime(2030, 5, 7, 1, 0, tzinfo=crl.last_update_utc.tzinfo)
    answer = _ocsp_answer(live, serial, kind)
    assert answer.this_update_utc == crl.last_update_utc


def _open_day(on_or_after: date, step: int) -> datetime:
    """10:00 JST on the first day (forwards or backwards) city hall does certificate work."""
    office = default_calendar().office("city-hall")
    day = on_or_after
    while office.hours_on(day) is None or not office.hours_on(day).contains(time(10, 0)):
        day += timedelta(days=step)
    return datetime.combine(day, time(10, 0), JST)


def test_R3_1_R3_2_the_renewal_window_opens_when_the_clock_reaches_it(live):
    url = live[0]
    start = _open_day(real_now().astimezone(JST).date() + timedelta(days=1), 1)
    http_json("PUT", url + "/api/sandbox/time", {"now": start.isoformat()})
    made = _resident(live, "valid")
    body = {"resident_id": made["id"], "pins": DEMO_PINS}
    code, refusal = http_json("POST", url + "/api/counter/renewal", body)
    assert code == 409 and refusal["rule"] == "R3.2", refusal
    opens_on = date.fromisoformat(refusal["opens_on"])
    expiry = date.fromisoformat(made["certificates"][0]["not_after"])
    assert opens_on - expiry < timedelta(days=-88)  # about three months before (R3.1)

    eve = _open_day(opens_on - timedelta(days=1), -1)
    http_json("PUT", url + "/api/sandbox/time", {"now": eve.isoformat()})
    code, refusal = http_json("POST", url + "/api/counter/renewal", body)
    assert code == 409 and refusal["rule"] == "R3.2" and refusal["opens_on"] == opens_on.isoformat()

    day = _open_day(opens_on, 1)
    http_json("PUT", url + "/api/sandbox/time", {"now": day.isoformat()})
    code, done = http_json("POST", url + "/api/counter/renewal", body)
    assert code == 200 and done["outcome"] == "completed", done
    assert {e["reason"] for e in done["ended"]} == {"superseded"}  # R3.7
    assert all(c["not_after"] > made["certificates"][0]["not_after"] for c in done["issued"])


@pytest.mark.parametrize("moment, closed", [("2030-04-02T03:00", True), ("2030-04-02T06:29", True),
                                            ("2030-04-02T06:30", False), ("2030-04-02T22:59", False),
                                            ("2030-04-02T23:00", True)])
def test_R6_4_kiosk_hours_follow_the_sandbox_clock(live, moment, closed):
    url = live[0]
    assert http_json("PUT", url + "/api/sandbox/time", {"now": moment, "freeze": True})[0] == 200
    with urllib.request.urlopen(url + "/kiosk", timeout=30) as r:
        page = r.read().decode()
    assert ("R6.4" in page) is closed
