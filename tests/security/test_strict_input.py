"""Accepted only when right (R1.2): ids are JSON integers (not ``true`` or ``"1"``), a JSON
member named twice is refused (400), and a name or address that shows no visible character
or holds a bidirectional control, a noncharacter, a BOM or a C0/C1 control is refused in the
API, the pages and the CLI alike, the message naming the character and its position."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from openjpki.rules import register_text_fault, register_text_problem
from tests.security.serve_app_kit import run_cli, sandbox_client

BAD_NAMES = {"\u202e山田　太郎": (1, 0x202E), "\u200b\u200b": (None, None),
             "山田\ufeff太郎": (3, 0xFEFF), "山田\uffff": (3, 0xFFFF),
             "山田\x85太郎": (3, 0x85), "山田\u2066太郎": (3, 0x2066),
             "\u3000\u200b": (None, None), "山\x07田": (2, 0x07)}
GOOD = {"name": "山田　太郎", "address": "埼玉県川口市青木二丁目1番1号",
        "birth_date": "1980-05-15", "sex": "male"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return sandbox_client(tmp_path_factory.mktemp("strict") / "home")


def _count(client) -> int:
    r = client.get("/api/residents")
    assert r.status_code == 200
    body = r.json()
    return len(body["items"] if isinstance(body, dict) else body)


@pytest.mark.parametrize("value", [True, "1", 1.0, False, "01"])
def test_R1_2_resident_id_only_as_an_integer(client, value):
    r = client.post("/api/counter/revocation", json={"resident_id": value})
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"][-1] == "resident_id"


def test_flags_are_booleans_and_sex_is_no_flag(client):
    r = client.post("/api/residents", json={**GOOD, "honseki_here": 1})
    assert r.status_code == 422 and "honseki_here" in r.text
    r = client.post("/api/residents", json={**GOOD, "sex": True})
    assert r.status_code == 422
    r = client.post("/api/residents", json={**GOOD, "birth_date": 0})
    assert r.status_code == 422


def test_duplicate_json_members_are_refused(client):
    before = _count(client)
    raw = ('{"name": "山田　太郎", "address": "x", "birth_date": "1980-05-15", '
           '"sex": "male", "name": "偽名　花子"}').encode()
    r = client.post("/api/residents", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["member"] == "name"
    nested = b'{"resident_id": 1, "applicant": {"type": "holder", "type": "voluntary_proxy"}}'
    r = client.post("/api/counter/revocation", content=nested)
    assert r.status_code == 400 and r.json()["member"] == "type"
    assert _count(client) == before


@pytest.mark.parametrize("bad", sorted(BAD_NAMES))
def test_R1_2_api_refuses_invisible_and_control_names(client, bad):
    before = _count(client)
    for field in ("name", "address"):
        r = client.post("/api/residents", json={**GOOD, field: bad})
        assert r.status_code == 422, r.text
        detail = r.json()["detail"]
        position, cp = BAD_NAMES[bad]
        if cp is None:
            assert "no visible character" in detail
        else:
            assert f"U+{cp:04X}" in detail and f"position {position}" in detail, detail
    assert _count(client) == before


def test_R1_2_register_events_refuse_them_too(client):
    r = client.post("/api/residents", json=GOOD)
    assert r.status_code in (200, 201), r.text
    rid = r.json()["id"]
    r = client.post(f"/api/residents/{rid}/events/move", json={"address": "\u202e川口"})
    assert r.status_code == 422 and "U+202E" in r.text
    r = client.post(f"/api/residents/{rid}/events/name-change", json={"alias": "\u200b"})
    assert r.status_code == 422
    r = client.post(f"/api/sandbox/residents/{rid}/facts", json={"address": "川口\uffff"})
    assert r.status_code == 400 and "U+FFFF" in r.text
    assert client.get(f"/api/residents/{rid}").json()["address"] == GOOD["address"]


def test_R1_2_cli_refuses_with_one_line(tmp_path):
    home = tmp_path / "home"
    assert run_cli("--home", home, "init")[0] == 0
    for bad, (position, cp) in BAD_NAMES.items():
        code, _out, err = run_cli("--home", home, "resident", "add", "--name", bad, "--address",
                                  "川口市", "--birth", "1980-05-15", "--sex", "male")
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1, (bad, err)
        assert "R1.2" in lines[0] and (cp is None or f"U+{cp:04X}" in lines[0])
        assert position is None or f"position {position}" in lines[0]
    code, out, _err = run_cli("--home", home, "resident", "list", "--json")
    assert code == 0 and json.loads(out) == []


def test_R1_2_pages_refuse_with_the_character_named(tmp_path):
    """The clerk's page: the form comes back with the message, nothing is registered."""
    from datetime import datetime, timezone

    from openjpki.services.clerks import add_clerk
    from openjpki.store import Store

    client = sandbox_client(tmp_path / "home")
    store = Store.open(f"sqlite:///{tmp_path / 'home' / 'openjpki.sqlite3'}")
    add_clerk(store, "tanaka", "long enough password", role="clerk", display_name="田中",
              now=datetime.now(timezone.utc), actor="test")
    store.dispose()
    page = client.get("/counter/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = client.post("/counter/login", data={"name": "tanaka", "password": "long enough password",
                                            "csrf_token": token}, follow_redirects=True)
    assert r.status_code == 200
    form = client.get("/counter/residents/new")
    assert form.status_code == 200, form.text[:300]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    r = client.post("/counter/residents/new", data={
        "csrf_token": token, "name": "\u202e山田　太郎", "address": GOOD["address"],
        "birth_date": "1980-05-15", "sex": "male"}, follow_redirects=True)
    assert "U+202E" in r.text and "1文字目" in r.text
    assert _count(client) == 0


# --- the rule itself -------------------------------------------------------------------------

@hsettings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=30))
def test_R1_2_rule_names_the_first_bad_character(text):
    fault = register_text_fault(text)
    if fault is None:
        assert any(not unicodedata.category(c).startswith(("Z", "C"))
                   or unicodedata.category(c) == "Co" for c in text)
        return
    message = register_text_problem("name", text)
    assert message.startswith("name: ") and "R1.2" in message
    if fault.char is not None:
        assert text[fault.position - 1] == fault.char
        assert f"U+{ord(fault.char):04X}" in message
        before = register_text_fault(text[:fault.position - 1])
        assert before is None or before.char is None  # nothing bad before the one named
