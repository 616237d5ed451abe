"""The key ceremony: the root's key made in the token, the root self-signed by it, its
fingerprints printed, and a ceremony record in the audit log; a second generation the same
way."""

from __future__ import annotations

import json
import subprocess

import pytest

from openjpki.services.audit import trail
from openjpki.store import Store
from tests.hsm.softhsm import PIN

pytestmark = [pytest.mark.hsm, pytest.mark.slow]


def _ok(r):
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def _openssl_fingerprint(pem: str, algorithm: str) -> str:
    r = subprocess.run(["openssl", "x509", "-noout", "-fingerprint", f"-{algorithm}"],
                       input=pem, capture_output=True, text=True, check=True)
    return r.stdout.strip().split("=", 1)[1].replace(":", "")


def test_ceremony_makes_roots_in_the_token_and_records_them(softhsm, tmp_path):
    label = softhsm.new_token()
    home = tmp_path / "home"
    ceremony = ("authorities", "ceremony", "--module", softhsm.module, "--token", label,
                "--pin-stdin", "--operator", "山田 花子", "--json")
    sign1 = json.loads(_ok(softhsm.cli(home, *ceremony, "--kind", "sign", stdin=PIN + "\n")).stdout)
    auth1 = json.loads(_ok(softhsm.cli(home, *ceremony, "--kind", "auth", stdin=PIN + "\n")).stdout)
    assert (sign1["generation"], auth1["generation"]) == (1, 1)
    assert sign1["token"] == label and sign1["operator"] == "山田 花子"
    # init on the ceremony's home makes nothing new and returns the ceremony's roots
    roots = json.loads(_ok(softhsm.cli(home, "init", "--json", pin=PIN)).stdout)
    assert _openssl_fingerprint(roots["sign_root"], "sha256") == sign1["root_sha256"]
    assert _openssl_fingerprint(roots["auth_root"], "sha1") == auth1["root_sha1"]
    # a second SIGN generation, printed for people
    text = _ok(softhsm.cli(home, *ceremony[:-1], "--kind", "sign", stdin=PIN + "\n")).stdout
    assert "sign generation 2" in text and "root SHA-256" in text
    listed = softhsm.list_objects(label)
    assert listed.count("Private Key Object; RSA") == 3
    assert "openjpki-sign-2" in listed
    roots = json.loads(_ok(softhsm.cli(home, "authorities", "roots", "--kind", "sign",
                                       "--json", pin=PIN)).stdout)
    assert [r["generation"] for r in roots] == [1, 2]
    # the records: who, when, which key, the root's fingerprint; the chain verifies
    store = Store.open(f"sqlite:///{home / 'openjpki.sqlite3'}")
    try:
        with store.sessions() as s:
            first = trail(s, "authority:sign-1")
            second = trail(s, "authority:sign-2")
    finally:
        store.dispose()
    assert [e["action"] for e in first] == ["authority.ceremony"]
    entry = first[0]
    assert entry["actor"] == "山田 花子" and entry["at"].startswith(sign1["at"][:16])
    assert entry["payload"]["root_sha256"] == sign1["root_sha256"]
    assert entry["payload"]["key_id"] == sign1["key_id"]
    assert PIN not in json.dumps(entry)
    assert second[0]["payload"]["generation"] == 2
    assert second[0]["payload"]["root_sha256"] != sign1["root_sha256"]
    v = softhsm.cli(home, "audit", "verify", pin=PIN)
    assert v.returncode == 0 and "audit chain OK" in v.stdout, v.stdout + v.stderr
    # the new generation issues, signed by the token
    issued = json.loads(_ok(softhsm.cli(home, "cert", "issue", "--kind", "sign", "--json",
                                        pin=PIN)).stdout)
    assert issued["status"] == "good"


def test_ceremony_with_a_wrong_pin_makes_nothing(softhsm, tmp_path):
    label = softhsm.new_token()
    home = tmp_path / "home"
    r = softhsm.cli(home, "authorities", "ceremony", "--kind", "sign", "--module",
                    softhsm.module, "--token", label, "--pin-stdin", stdin="000000\n")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "PIN is wrong" in r.stderr, r.stderr
    assert "Private Key Object" not in softhsm.list_objects(label)
