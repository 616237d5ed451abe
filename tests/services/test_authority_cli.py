"""The authority commands through the real entry point (subprocess), as scripts use them
(CLI.md): init is safe twice, cert list/revoke/hold print the documented JSON, crl generate
writes DER that openssl accepts, serve initialises on first start, and bad input exits 2 with
one line and no traceback (refusals exit 1 with their rule, R4.3)."""

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

from openjpki.services.authority_setup import PASSPHRASE_ENV
from openjpki.services.authority_testing import PASSPHRASE, seed_ca_keys

CERT_KEYS = {"serial", "kind", "status", "reason", "not_after", "resident_id", "pem"}


def cli(home, *args, env=None):
    environ = {**os.environ, PASSPHRASE_ENV: PASSPHRASE.decode(), **(env or {})}
    environ = {k: v for k, v in environ.items() if v is not None}
    r = subprocess.run([sys.executable, "-m", "openjpki", "--home", str(home), *args],
                       capture_output=True, text=True, timeout=120, env=environ)
    assert "Traceback" not in r.stdout + r.stderr
    return r


def ok_json(r):
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def one_line_error(r):
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    return lines[0]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("cli") / "home"
    seed_ca_keys(home / "keys")
    return home


@pytest.fixture(scope="module")
def roots(home):
    return ok_json(cli(home, "init", "--json"))


def test_init_twice_is_safe_and_returns_the_same_roots(home, roots):
    assert set(roots) == {"sign_root", "auth_root"}
    assert roots["sign_root"].startswith("-----BEGIN CERTIFICATE-----")
    assert ok_json(cli(home, "init", "--json")) == roots
    assert "[pki]" in (home / "openjpki.toml").read_text()


def test_init_without_a_passphrase_makes_a_0600_passphrase_file(tmp_path):
    home = tmp_path / "h"
    r = cli(home, "init", "--environment", "test", "--ocsp-url", "http://127.0.0.1:9/ocsp",
            env={PASSPHRASE_ENV: None})
    assert r.returncode == 0, r.stderr
    passphrase = home / "keys" / "passphrase"
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "keys" / "sign-1.key").stat().st_mode) == 0o600
    assert 'ocsp_url = "http://127.0.0.1:9/ocsp"' in (home / "openjpki.toml").read_text()
    r = cli(home, "init", "--environment", "production", env={PASSPHRASE_ENV: None})
    assert "test environment" in one_line_error(r)


def test_cert_issue_hold_revoke_list_json(home, roots):
    sign = ok_json(cli(home, "cert", "issue", "--kind", "sign", "--resident", "R-1", "--json"))
    auth = ok_json(cli(home, "cert", "issue", "--kind", "auth", "--resident", "R-1", "--json"))
    assert set(sign) == CERT_KEYS and (sign["kind"], sign["status"], sign["reason"]) == ("sign", "good", None)
    held = ok_json(cli(home, "cert", "hold", auth["serial"].upper(), "--json"))
    assert (held["serial"], held["status"], held["reason"]) == (auth["serial"], "hold", "certificateHold")
    revoked = ok_json(cli(home, "cert", "revoke", auth["serial"], "--reason", "keyCompromise", "--json"))
    assert (revoked["status"], revoked["reason"]) == ("revoked", "keyCompromise")  # R4.3 final reason
    listed = ok_json(cli(home, "cert", "list", "--resident", "R-1", "--json"))
    assert [c["serial"] for c in listed] == [sign["serial"], auth["serial"]]
    assert all(set(c) == CERT_KEYS and c["resident_id"] == "R-1" for c in listed)
    assert [c["serial"] for c in ok_json(cli(home, "cert", "list", "--status", "revoked", "--json"))] \
        == [auth["serial"]]
    # R4.3: a revocation is final — a refusal, exit 1, with its rule
    r = cli(home, "cert", "hold", auth["serial"])
    assert r.returncode == 1 and "R4.3" in r.stdout


@pytest.mark.parametrize("args, says", [
    (["cert", "revoke", "abc", "--reason", "lost"], "keyCompromise"),   # lists the valid names
    (["cert", "revoke", "abc"], "--reason"),
    (["cert", "revoke", "abcdef0123", "--reason", "superseded"], "no certificate"),
    (["cert", "hold", "xyz!"], "hexadecimal"),
    (["cert", "list", "--status", "lost"], "good, revoked, hold"),
    (["crl", "generate", "--out", "x.crl"], "--kind"),
    (["crl", "generate", "--kind", "both"], "sign, auth"),
])
def test_bad_input_exits_2_with_one_line(home, roots, args, says, capsys, monkeypatch):
    # In-process through the same entry point (main), to spare a start-up per case; the
    # subprocess cases above and below cover the process boundary.
    from openjpki.cli import main

    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
    with pytest.raises(SystemExit) as info:
        main(["--home", str(home), *args])
    out = capsys.readouterr()
    r = subprocess.CompletedProcess(args, info.value.code, out.out, out.err)
    assert "Traceback" not in r.stdout + r.stderr
    assert says in one_line_error(r)


def test_commands_before_init_say_so(tmp_path):
    assert "openjpki init" in one_line_error(cli(tmp_path / "nothing", "cert", "list"))
    assert not (tmp_path / "nothing").exists()


@pytest.mark.interop
def test_crl_generate_writes_der_that_openssl_verifies(home, roots, tmp_path):
    ok_json(cli(home, "cert", "issue", "--kind", "sign", "--json"))
    revoked = ok_json(cli(home, "cert", "issue", "--kind", "sign", "--municipality", "港区", "--json"))
    ok_json(cli(home, "cert", "revoke", revoked["serial"], "--reason", "affiliationChanged", "--json"))
    out = ok_json(cli(home, "crl", "generate", "--json"))
    assert len(out["files"]) >= 4  # sign, auth, and a partition per municipality
    (tmp_path / "sign.pem").write_text(roots["sign_root"])
    (tmp_path / "auth.pem").write_text(roots["auth_root"])
    for path in out["files"]:
        root = tmp_path / ("auth.pem" if path.endswith("auth.crl") else "sign.pem")
        r = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", path, "-noout",
                            "-CAfile", str(root)], capture_output=True, text=True)
        assert r.returncode == 0 and "verify OK" in r.stdout + r.stderr, path
    single = ok_json(cli(home, "crl", "generate", "--kind", "auth", "--out", str(tmp_path / "a.crl"), "--json"))
    assert single["files"] == [str(tmp_path / "a.crl")]
    full = [f for f in out["files"] if f.endswith("/sign.crl")][0]
    text = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", full, "-noout", "-text"],
                          capture_output=True, text=True).stdout
    assert revoked["serial"].upper() in text.replace(":", "").upper()


def test_serve_initialises_on_first_start(tmp_path):
    home = tmp_path / "served"
    seed_ca_keys(home / "keys")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, PASSPHRASE_ENV: PASSPHRASE.decode()}
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), "serve",
                             "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert json.loads(r.read())["status"] == "ok"
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "serve did not answer"
                time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert (home / "openjpki.sqlite3").exists()


@pytest.mark.interop
def test_rollover_roots_and_crls_of_every_generation(tmp_path):
    """`authorities rollover --kind K` makes generation N+1 (same DN, new key), `authorities
    roots` lists every generation for relying parties to trust, and `crl generate` writes
    each generation's CRLs where their certificates point (crl/…, crl/g2/…), each verified
    by openssl against its own root."""
    home = tmp_path / "gen"
    seed_ca_keys(home / "keys")
    first = ok_json(cli(home, "init", "--json"))
    made = ok_json(cli(home, "authorities", "rollover", "--kind", "sign", "--json"))
    assert made["generation"] == 2 and made["current"] is True and made["root"] != first["sign_root"]
    roots = ok_json(cli(home, "authorities", "roots", "--json"))
    assert [(r["kind"], r["generation"], r["current"]) for r in roots] == [
        ("sign", 1, False), ("sign", 2, True), ("auth", 1, True)]
    assert roots[0]["root"] == first["sign_root"] and roots[1]["root"] == made["root"]
    ok_json(cli(home, "cert", "issue", "--kind", "sign", "--json"))  # from generation 2
    out = ok_json(cli(home, "crl", "generate", "--json"))
    names = [str(Path(f).relative_to(home)) for f in out["files"]]
    assert "crl/sign.crl" in names and "crl/g2/sign.crl" in names and "crl/auth.crl" in names
    assert any(n.startswith("crl/g2/sign/") for n in names)
    for generation, pem in ((1, first["sign_root"]), (2, made["root"])):
        (tmp_path / f"r{generation}.pem").write_text(pem)
    for f in out["files"]:
        rel = str(Path(f).relative_to(home))
        root = "auth.pem" if rel.endswith("auth.crl") else ("r2.pem" if rel.startswith("crl/g2/") else "r1.pem")
        (tmp_path / "auth.pem").write_text(first["auth_root"])
        r = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", f, "-noout", "-CAfile",
                            str(tmp_path / root)], capture_output=True, text=True)
        assert r.returncode == 0 and "verify OK" in r.stdout + r.stderr, rel
    only = ok_json(cli(home, "crl", "generate", "--kind", "sign", "--generation", "1",
                       "--out", str(tmp_path / "one.crl"), "--json"))
    assert only["files"] == [str(tmp_path / "one.crl")]
    assert "generation 7" in one_line_error(cli(home, "crl", "generate", "--generation", "7"))
    assert "sign or auth" in one_line_error(cli(home, "authorities", "rollover", "--kind", "both"))
    assert "openjpki init" in one_line_error(cli(tmp_path / "none", "authorities", "roots"))


def test_crl_generate_only_partitions_writes_every_partition_and_no_full_list(home, roots, tmp_path):
    """One run writes every SIGN partition's CRL (services.authority_crls), each verified by
    openssl against the SIGN root, and no full list; the revoked entry is in its partition's."""
    issued = [ok_json(cli(home, "cert", "issue", "--kind", "sign", "--prefecture", p, "--municipality", m, "--json"))
              for p, m in (("東京都", "港区"), ("大阪府", "堺市"))]
    ok_json(cli(home, "cert", "revoke", issued[1]["serial"], "--reason", "keyCompromise", "--json"))
    out = ok_json(cli(home, "crl", "generate", "--only-partitions", "--json"))
    names = [str(Path(f).relative_to(home)) for f in out["files"]]
    assert names and all(n.startswith("crl/sign/") for n in names), names
    root = tmp_path / "sign-root.pem"
    root.write_text(roots["sign_root"])
    found = 0
    for f in out["files"]:
        r = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", f, "-noout", "-CAfile", str(root)],
                           capture_output=True, text=True)
        assert r.returncode == 0 and "verify OK" in r.stdout + r.stderr, f
        crl = x509.load_der_x509_crl(Path(f).read_bytes())
        found += sum(1 for e in crl if e.serial_number == int(issued[1]["serial"], 16))
    assert found == 1 and out["entries"] >= 1
    assert "--only-partitions" in one_line_error(cli(home, "crl", "generate", "--only-partitions", "--kind", "auth"))
