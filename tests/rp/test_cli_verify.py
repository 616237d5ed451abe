"""`openjpki verify` (CLI.md): the JSON shape, exit codes 0/1/2, and the inputs it takes
(raw signature + certificate, `client sign --json` output, CMS, CRL files, --trust)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs7

from openjpki.cli import main

from .conftest import AT, FACTS, NOW, sign
from .homekit import make_home

DATA = b"e-Tax: application for a refund\n"


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([str(a) for a in args])
    out, err = capsys.readouterr()
    return exit_info.value.code, out, err


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return make_home(tmp_path_factory.mktemp("rp-home"))


@pytest.fixture
def files(tmp_path, home, keys):
    cert = home.issue("sign", keys["card"], facts=FACTS)
    (tmp_path / "doc").write_bytes(DATA)
    (tmp_path / "sig").write_bytes(sign(keys["card"], DATA))
    (tmp_path / "cert.pem").write_bytes(home.pem(cert))
    return tmp_path, cert


def verify_args(home, d, *extra):
    return ["--home", home.settings.home, "verify", "--signature", d / "sig", "--certificate", d / "cert.pem",
            d / "doc", "--at", AT.isoformat(), *extra]


def test_good_signature_json_is_exactly_the_cli_md_shape(capsys, home, files):
    d, _ = files
    rc, out, _ = run(capsys, *verify_args(home, d, "--json"))
    assert rc == 0
    assert json.loads(out) == {"valid": True, "status": "good", "facts": {
        "name": FACTS.name, "address": FACTS.address, "birth_date": FACTS.birth_date.isoformat(), "sex": FACTS.sex}}


@pytest.mark.parametrize("change, status", [("affiliationChanged", "revoked"), ("hold", "hold")])
def test_r4_revoked_or_held_exits_1_with_the_status(capsys, home, files, change, status):
    d, cert = files
    serial = format(cert.serial_number, "x")
    if change == "hold":
        home.service.hold(serial, at=NOW)
    else:
        home.service.revoke(serial, change, at=NOW)
    rc, out, _ = run(capsys, *verify_args(home, d, "--json"))
    assert rc == 1 and json.loads(out) == {"valid": False, "status": status, "facts": None}
    rc, out, _ = run(capsys, *verify_args(home, d))
    assert rc == 1 and out.startswith(f"{status}: ")


def test_r2_1_expired_and_tampered(capsys, home, files):
    d, _ = files
    args = verify_args(home, d, "--json")
    args[args.index("--at") + 1] = "2029-03-01"
    rc, out, _ = run(capsys, *args)
    assert rc == 1 and json.loads(out)["status"] == "expired"
    (d / "doc").write_bytes(DATA + b"tampered")
    rc, out, _ = run(capsys, *verify_args(home, d, "--json"))
    assert rc == 1 and json.loads(out)["status"] == "bad-signature"


def test_client_sign_json_output_is_accepted_as_signature(capsys, home, files, keys):
    d, cert = files
    (d / "sig.json").write_text(json.dumps({"signature": base64.b64encode(sign(keys["card"], DATA)).decode(),
                                            "certificate": home.pem(cert).decode()}))
    rc, out, _ = run(capsys, "--home", home.settings.home, "verify", "--signature", d / "sig.json", d / "doc",
                     "--at", AT.isoformat(), "--json")
    assert rc == 0 and json.loads(out)["status"] == "good"


def test_cms_with_its_own_certificate(capsys, home, files, keys):
    d, cert = files
    cms = (pkcs7.PKCS7SignatureBuilder().set_data(DATA).add_signer(cert, keys["card"], hashes.SHA256())
           .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary]))
    (d / "sig.p7s").write_bytes(cms)
    rc, out, _ = run(capsys, "--home", home.settings.home, "verify", "--signature", d / "sig.p7s", d / "doc",
                     "--at", AT.isoformat(), "--json", "--purpose", "sign")
    assert rc == 0 and json.loads(out)["facts"]["name"] == FACTS.name


def test_crl_files_replace_the_store_as_revocation_source(capsys, home, files):
    d, cert = files
    crl = home.service.crl("sign", now=NOW)
    (d / "sign.crl").write_bytes(crl.der)
    rc, out, _ = run(capsys, *verify_args(home, d, "--json", "--crl", d / "sign.crl"))
    assert rc == 0, out
    home.service.revoke(format(cert.serial_number, "x"), "keyCompromise", at=NOW + timedelta(minutes=1))
    # the CRL file predates the revocation: the relying party who chose it sees good …
    assert run(capsys, *verify_args(home, d, "--json", "--crl", d / "sign.crl"))[0] == 0
    # … the store says revoked, and a new CRL too
    assert json.loads(run(capsys, *verify_args(home, d, "--json"))[1])["status"] == "revoked"
    (d / "sign2.crl").write_bytes(home.service.crl("sign", now=NOW + timedelta(minutes=2)).der)
    rc, out, _ = run(capsys, *verify_args(home, d, "--json", "--crl", d / "sign2.crl"))
    assert rc == 1 and json.loads(out)["status"] == "revoked"


def test_trust_without_an_initialised_home(capsys, home, files, tmp_path):
    d, _ = files
    (d / "root.pem").write_bytes(home.pem(home.service.root("sign")))
    (d / "sign.crl").write_bytes(home.service.crl("sign", now=NOW).der)
    args = ["--home", tmp_path / "empty-home", "verify", "--signature", d / "sig", "--certificate", d / "cert.pem",
            d / "doc", "--at", AT.isoformat(), "--json", "--trust", d / "root.pem"]
    rc, out, _ = run(capsys, *args, "--crl", d / "sign.crl")
    assert rc == 0 and json.loads(out)["status"] == "good"
    rc, out, _ = run(capsys, *args)  # no revocation source at all: not valid
    assert rc == 1 and json.loads(out)["status"] == "untrusted"


@pytest.mark.parametrize("mutate, words", [
    (lambda a: a.remove("--certificate") or a.remove(a[a.index("--signature") + 2]), "needs --certificate"),
    (lambda a: a.__setitem__(a.index("--at") + 1, "yesterday"), "--at"),
    (lambda a: a.extend(["--purpose", "login"]), "--purpose"),
    (lambda a: a.extend(["--crl", "/nonexistent.crl"]), "cannot read"),
    (lambda a: a.extend(["--ocsp", "ftp://x"]), "--ocsp"),
    (lambda a: a.__setitem__(a.index("--certificate") + 1, a[a.index("--signature") + 1]), "not an X.509"),
])
def test_bad_usage_exits_2_with_one_line(capsys, home, files, mutate, words):
    d, _ = files
    args = [str(a) for a in verify_args(home, d, "--json")]
    mutate(args)
    rc, out, err = run(capsys, *args)
    assert rc == 2 and out == "" and words in err and len(err.strip().splitlines()) == 1


def test_uninitialised_home_without_trust_exits_2(capsys, files, tmp_path):
    d, _ = files
    rc, _, err = run(capsys, "--home", tmp_path / "nothing", "verify", "--signature", d / "sig",
                     "--certificate", d / "cert.pem", d / "doc")
    assert rc == 2 and "openjpki init" in err


def test_without_at_the_sandbox_clock_is_now(capsys, home, files):
    """A SQLite home is a sandbox: `sandbox time set` moves what verify takes as now."""
    from datetime import datetime, timezone

    from openjpki.services.sandbox_clock import read_clock, reset_clock, set_clock

    d, _ = files
    args = [a for a in verify_args(home, d, "--json")]
    i = args.index("--at")
    del args[i:i + 2]
    real = datetime.now(timezone.utc)
    set_clock(home.service.store, datetime(2029, 3, 1, 12, tzinfo=timezone.utc), real=real, freeze=True)
    try:
        assert read_clock(home.service.store).mode == "fixed"
        rc, out, _ = run(capsys, *args)
        assert rc == 1 and json.loads(out)["status"] == "expired"
        set_clock(home.service.store, AT, real=real, freeze=True)
        rc, out, _ = run(capsys, *args)
        assert rc == 0 and json.loads(out)["status"] == "good"
    finally:
        reset_clock(home.service.store, real=real)
