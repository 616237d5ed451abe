"""The holder-side client (R8.1) and the issuing terminal over PC/SC, against the virtual
card in the vpcd reader; signatures checked by openssl."""

from __future__ import annotations

import base64
import json
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from openjpki.card import IssuingTerminal, JpkiClient, sign_file_data
from openjpki.card.pcsc import PcscTransport

from .cardkit import AUTH_PIN, SIGN_PIN, issue
from .conftest import InsertedCard, openjpki

pytestmark = pytest.mark.pcsc


def _openssl_verify(tmp_path, cert_pem: str, sig: bytes, msg_path) -> None:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    (tmp_path / "pub.pem").write_bytes(cert.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    (tmp_path / "check.sig").write_bytes(sig)
    r = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.pem"),
                        "-signature", str(tmp_path / "check.sig"), str(msg_path)],
                       capture_output=True, text=True)
    assert r.returncode == 0 and "Verified OK" in r.stdout, r.stdout + r.stderr


def test_client_readers(inserted):
    r = openjpki("client", "readers", "--json")
    assert r.returncode == 0, r.stderr
    readers = json.loads(r.stdout)
    r0 = [x for x in readers if x["name"].startswith("Virtual PCD 00 00")][0]
    assert r0["card"] is True and r0["atr"] == "3BDA13FF8131FB468012392F31C173C601C03B"


def test_R8_1_client_show(cli, inserted, issued):
    r = cli("client", "show", "--json")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    auth_cert = x509.load_der_x509_certificate(issued.certs["auth"])
    assert shown["token"]["label"] == "JPKIAPICCTOKEN2" and shown["token"]["serial"] == "TESTCARD1"
    assert shown["auth"]["subject"] == auth_cert.subject.rfc4514_string()
    assert shown["auth"]["not_after"] == auth_cert.not_valid_after_utc.isoformat()
    assert shown["auth"]["pin_tries_left"] == 3 and shown["auth"]["pin_max_tries"] == 3
    assert shown["sign"] | {} and shown["sign"]["present"] is True
    assert shown["sign"]["readable"] is False and shown["sign"]["pin_tries_left"] == 5
    r = cli("client", "show", "--sign-pin", SIGN_PIN, "--json")
    sign_cert = x509.load_der_x509_certificate(issued.certs["sign"])
    assert json.loads(r.stdout)["sign"]["subject"] == sign_cert.subject.rfc4514_string()
    text = cli("client", "show").stdout
    assert "AUTH" in text and "3/3 tries left" in text and "5/5 tries left" in text


@pytest.mark.interop
@pytest.mark.parametrize("key,pin", [("auth", AUTH_PIN), ("sign", SIGN_PIN)])
def test_client_sign_verifies_with_openssl(cli, inserted, issued, tmp_path, key, pin):
    doc = tmp_path / "申請書.txt"
    doc.write_bytes("電子申請の本文\n".encode() * 100)
    out = tmp_path / "doc.sig"
    r = cli("client", "sign", "--key", key, "--pin", pin, str(doc), "--out", str(out),
                 "--json")
    assert r.returncode == 0, r.stderr
    answer = json.loads(r.stdout)
    assert set(answer) == {"signature", "certificate"}
    sig = base64.b64decode(answer["signature"])
    assert sig == out.read_bytes() and len(sig) == 256
    assert x509.load_pem_x509_certificate(answer["certificate"].encode()).public_bytes(
        Encoding.DER) == issued.certs[key]
    _openssl_verify(tmp_path, answer["certificate"], sig, doc)


def test_wrong_pin_then_locked_exit_1(cli, inserted):
    for left in (2, 1):
        r = cli("client", "verify-pin", "--key", "auth", "--pin", "0000")
        assert r.returncode == 1 and f"{left} tries left" in r.stderr and "R1.4" in r.stderr
        assert f"残り {left} 回" in r.stderr
    r = cli("client", "sign", "--key", "auth", "--pin", "9999", "/etc/hostname")
    assert r.returncode == 1 and "locked" in r.stderr and "R1.7" in r.stderr
    r = cli("client", "verify-pin", "--key", "auth", "--pin", AUTH_PIN)
    assert r.returncode == 1 and "R1.7" in r.stderr and "Traceback" not in r.stderr
    r = cli("client", "verify-pin", "--key", "sign", "--pin", SIGN_PIN)
    assert r.returncode == 0, r.stderr


def test_change_pin(cli, inserted):
    r = cli("client", "change-pin", "--key", "sign", "--pin", SIGN_PIN, "--new-pin", "abc123")
    assert r.returncode == 1 and "R1.3" in r.stderr
    r = cli("client", "change-pin", "--key", "sign", "--pin", SIGN_PIN, "--new-pin", "NEW2PIN")
    assert r.returncode == 0, r.stderr
    assert cli("client", "verify-pin", "--key", "sign", "--pin", "NEW2PIN").returncode == 0
    r = cli("client", "verify-pin", "--key", "sign", "--pin", SIGN_PIN)
    assert r.returncode == 1 and "4 tries left" in r.stderr


def test_no_card_and_bad_reader_exit_2(pcsc, cli, tmp_path):
    r = openjpki("client", "show")  # the real entry point: exit status, no traceback
    assert r.returncode == 2 and "no card" in r.stderr and "Traceback" not in r.stderr
    r = cli("client", "show", "--reader", "No Such Reader")
    assert r.returncode == 2 and "no reader" in r.stderr
    r = cli("client", "verify-pin", "--key", "auth", "--pin", "1234", "--reader", "1")
    assert r.returncode == 2 and "no card in reader" in r.stderr
    r = cli("client", "sign", "--key", "auth", "--pin", "1234", str(tmp_path / "missing"))
    assert r.returncode == 2 and "cannot read" in r.stderr
    r = cli("client", "sign", "--key", "both", "--pin", "1234", "/etc/hostname")
    assert r.returncode == 2 and "--key" in r.stderr


def test_issue_a_blank_card_through_pcsc(pcsc, home, tmp_path):
    """The counter's path: a blank card in a reader, issued with the IssuingTerminal over
    PC/SC (exclusive), then used by the holder client."""
    from openjpki.card import CardStore
    secret = CardStore(home / "cards").create("BLANK2")
    card = InsertedCard(home, "BLANK2")
    try:
        card.wait_present()
        with PcscTransport(exclusive=True) as t:
            certs = issue(IssuingTerminal(t, secret), "BLANK2", auth_pin="2468")
        with PcscTransport() as t:
            client = JpkiClient(t)
            client.select_jpki()
            assert client.tries_left("auth") == 3
            sig, der = sign_file_data(t, "auth", "2468", b"issued over PC/SC")
            assert der == certs["auth"]
            with pytest.raises(Exception, match="refused the issuing secret"):
                IssuingTerminal(t, b"\x01" * 32).wipe()
    finally:
        card.remove()
