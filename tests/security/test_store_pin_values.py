"""Nothing in the store lets a PIN be found by trying them all: no PIN in clear, no bare hash
of one (MD5, SHA-1, SHA-256, SHA-512, hex or raw, of any of the 10 000 four-digit PINs or of
the PINs typed), and slow password hashes only where a password is kept (clerks). The PINs
of deferred work are sealed under the counter key, which is a file in the home, not in the
store. (The resident-registry PIN's own column, ``cards.card_pin_hash``, is leaving the
store for the card, which then counts its tries; it is not looked at here.)"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3

import pytest

from tests.security.serve_app_kit import cli_in

pytestmark = pytest.mark.slow

ALWAYS_OPEN = """
[offices.always]
name_ja = "試験窓口"
name_en = "Test counter"
weekdays = "00:00-23:59"
weekends_holidays = "00:00-23:59"
"""
TYPED = {"card": "7305", "sign": "QX7Z9K2M", "auth": "8352"}
LEAVING = {("cards", "card_pin_hash")}
SLOW_HASHES = {("clerks", "password_hash")}


def cli(home, *args, env=None):
    return cli_in(home, *args, env=env)


def _digests(pin: str) -> set[str]:
    out = set()
    for name in ("md5", "sha1", "sha256", "sha512"):
        d = hashlib.new(name, pin.encode()).digest()
        out.update({d.hex(), d.hex().upper(), d.decode("latin-1")})
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    h = tmp_path_factory.mktemp("pinvalues") / "home"
    h.mkdir(mode=0o700)
    (h / "always.toml").write_text(ALWAYS_OPEN, encoding="utf-8")
    (h / "openjpki.toml").write_text('[counter]\ncalendar = "always.toml"\n'
                                     'default_office = "always"\n', encoding="utf-8")
    assert cli(h, "init").returncode == 0
    assert cli(h, "demo").returncode == 0
    assert cli(h, "clerk", "add", "tanaka", env={"OPENJPKI_CLERK_PASSWORD": "a long password"}
               ).returncode == 0
    env = {"OPENJPKI_CARD_PIN": TYPED["card"], "OPENJPKI_SIGN_PIN": TYPED["sign"],
           "OPENJPKI_AUTH_PIN": TYPED["auth"]}
    for name in ("試験　一郎", "試験　二郎"):
        r = cli(h, "resident", "add", "--name", name, "--address", "埼玉県川口市青木一丁目1番1号",
                "--birth", "1990-05-05", "--sex", "male", "--json")
        assert r.returncode == 0, r.stderr
        rid = str(json.loads(r.stdout)["id"])
        if name.endswith("二郎"):  # this one waits in the queue with its PINs sealed
            assert cli(h, "authorities", "off").returncode == 0
        r = cli(h, "counter", "issue", rid, "--new-card", "--photo-id", "drivers_licence",
                env=env)
        assert r.returncode in (0, 3), r.stdout + r.stderr
    assert r.returncode == 3
    return h / "openjpki.sqlite3"


def _values(db):
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        tables = [t for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for t in tables:
            cols = [c[1] for c in conn.execute(f'PRAGMA table_info("{t}")')]
            for row in conn.execute(f'SELECT * FROM "{t}"'):
                for col, v in zip(cols, row):
                    if isinstance(v, (str, bytes)):
                        yield t, col, v
    finally:
        conn.close()


def test_no_pin_in_clear_or_as_a_bare_hash(store):
    every_pin = {f"{n:04d}" for n in range(10_000)} | set(TYPED.values())
    digests: set[str] = set()
    for pin in every_pin:
        digests |= _digests(pin)
    hexes = {d for d in digests if re.fullmatch(r"[0-9a-fA-F]+", d)}
    raws = {d for d in digests if d not in hexes}
    seen = 0
    for table, col, v in _values(store):
        if (table, col) in LEAVING:
            continue
        seen += 1
        text = v.decode("latin-1") if isinstance(v, bytes) else v
        for pin in TYPED.values():
            assert pin not in text or len(pin) == 4 and not re.search(
                rf"(?<![0-9]){pin}(?![0-9])", text), (table, col, "a typed PIN in clear")
        for token in re.findall(r"[0-9a-fA-F]{32,128}", text):
            assert token not in hexes, (table, col, "a bare hash of a PIN")
        if isinstance(v, bytes) and len(v) in (16, 20, 32, 64):
            assert text not in raws, (table, col, "a raw hash of a PIN")
    assert seen > 100


def test_slow_hashes_only_where_a_password_is_kept(store):
    for table, col, v in _values(store):
        text = v.decode("latin-1") if isinstance(v, bytes) else v
        if re.match(r"(scrypt|pbkdf2|argon2|bcrypt)\$", text):
            assert (table, col) in SLOW_HASHES | LEAVING, (table, col)


def test_queued_pins_are_sealed_under_a_key_outside_the_store(store):
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        sealed = [v for (v,) in conn.execute("SELECT pins_sealed FROM deferred_items")
                  if v is not None]
    finally:
        conn.close()
    assert sealed, "the queued issuance keeps its PINs"
    key = (store.parent / "keys" / "counter.key").read_bytes()
    assert len(key) == 32
    for blob in sealed:
        for pin in TYPED.values():
            assert pin.encode() not in blob and pin.encode("utf-16-le") not in blob
