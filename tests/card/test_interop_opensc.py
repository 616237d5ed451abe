"""Interop with OpenSC through pcscd and vpcd: the virtual card, put into the reader by
``openjpki card insert``, is read, logged into and used for signing by tools we did not
write (pkcs15-tool, pkcs11-tool), and their signatures are checked by openssl."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .cardkit import AUTH_PIN, SIGN_PIN
from .conftest import InsertedCard

pytestmark = [pytest.mark.pcsc, pytest.mark.interop]

PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


def tool(*args: str, driver: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("OPENSC_DRIVER", None)
    if driver:
        env["OPENSC_DRIVER"] = driver
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=env)
    if check:
        assert r.returncode == 0, f"{args}: {r.stdout}\n{r.stderr}"
    return r


def _block(text: str, title: str) -> str:
    m = re.search(re.escape(title) + r"\]\n(.*?)(?:\n\n|\Z)", text, re.S)
    assert m, f"no object {title!r} in:\n{text}"
    return m.group(1)


def test_pkcs15_tool_dump_with_real_probing(inserted):
    """No OPENSC_DRIVER: OpenSC probes with other drivers' APDUs first, then finds JPKI by
    SELECTing its AID (the card answers with a real card's ATR, not the one in OpenSC's table)."""
    out = tool("pkcs15-tool", "-D").stdout
    assert "PKCS#15 Card [JPKI]" in out
    auth_pin = _block(out, "PIN [User Authentication PIN")
    assert re.search(r"ID\s+: 01", auth_pin) and "min_len:4, max_len:4" in auth_pin
    assert re.search(r"Tries left\s+: 3", auth_pin)
    sign_pin = _block(out, "PIN [Digital Signature PIN")
    assert re.search(r"ID\s+: 02", sign_pin) and "min_len:6, max_len:16" in sign_pin
    assert re.search(r"Tries left\s+: 5", sign_pin)
    auth_key = _block(out, "Private RSA Key [User Authentication Key")
    assert re.search(r"ID\s+: 01", auth_key) and "ModLength      : 2048" in auth_key
    sign_key = _block(out, "Private RSA Key [Digital Signature Key")
    assert re.search(r"ID\s+: 02", sign_key) and "nonRepudiation" in sign_key
    auth_cert = _block(out, "X.509 Certificate [User Authentication Certificate")
    assert re.search(r"Path\s+: 000a", auth_cert) and re.search(r"ID\s+: 01", auth_cert)
    sign_cert = _block(out, "X.509 Certificate [Digital Signature Certificate")
    assert re.search(r"Path\s+: 0001", sign_cert) and "private" in sign_cert
    assert re.search(r"ID\s+: 03", _block(out, "X.509 Certificate [User Authentication Certificate CA"))
    assert re.search(r"ID\s+: 04", _block(out, "X.509 Certificate [Digital Signature Certificate CA"))


def test_opensc_atr_and_jpki_driver(pcsc, home):
    """The ATR OpenSC's table matches, with probing skipped (OPENSC_DRIVER=jpki)."""
    card = InsertedCard(home, "TESTCARD1", "--atr", "opensc")
    try:
        assert card.wait_present() == bytes.fromhex("3BE000FF8131FE4514")
        out = tool("pkcs15-tool", "-D", driver="jpki").stdout
        assert "PKCS#15 Card [JPKI]" in out and "Digital Signature Key" in out
    finally:
        card.remove()


def _pem_der(pem: str) -> bytes:
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)


def test_read_certificates(inserted, issued):
    assert _pem_der(tool("pkcs15-tool", "--read-certificate", "01").stdout) == issued.certs["auth"]
    from .cardkit import throwaway_ca
    assert _pem_der(tool("pkcs15-tool", "--read-certificate", "03").stdout) == throwaway_ca("auth").der
    # the SIGN certificate needs the SIGN PIN
    r = tool("pkcs15-tool", "--read-certificate", "02", check=False)
    assert r.returncode != 0 and "BEGIN CERTIFICATE" not in r.stdout
    r = tool("pkcs15-tool", "--read-certificate", "02", "--auth-id", "02", "--verify-pin",
             "--pin", SIGN_PIN)
    assert _pem_der(r.stdout) == issued.certs["sign"]


@pytest.mark.parametrize("slot,key_id,pin,cert_id,mech", [
    ("0", "01", AUTH_PIN, "01", "SHA256-RSA-PKCS"),
    ("1", "02", SIGN_PIN, "02", "SHA256-RSA-PKCS"),
    ("0", "01", AUTH_PIN, "01", "RSA-PKCS"),
])
def test_pkcs11_sign_verifies_with_openssl(inserted, tmp_path, slot, key_id, pin, cert_id, mech):
    msg = tmp_path / "msg.txt"
    msg.write_bytes("署名する文書 / the document\n".encode() * 20)
    sig = tmp_path / "sig.bin"
    data = msg
    if mech == "RSA-PKCS":  # the caller hashes and sends a DigestInfo
        import hashlib
        from openjpki.card.rsaops import SHA256_DIGESTINFO_PREFIX
        data = tmp_path / "digestinfo.bin"
        data.write_bytes(SHA256_DIGESTINFO_PREFIX + hashlib.sha256(msg.read_bytes()).digest())
    tool("pkcs11-tool", "--module", PKCS11, "--slot-index", slot, "--login", "--pin", pin,
         "--sign", "-m", mech, "--id", key_id, "-i", str(data), "-o", str(sig))
    assert sig.stat().st_size == 256
    read = ["pkcs15-tool", "--read-certificate", cert_id]
    if cert_id == "02":
        read += ["--auth-id", "02", "--verify-pin", "--pin", SIGN_PIN]
    cert = x509.load_pem_x509_certificate(tool(*read).stdout.encode())
    pub = tmp_path / "pub.pem"
    pub.write_bytes(cert.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    r = tool("openssl", "dgst", "-sha256", "-verify", str(pub), "-signature", str(sig), str(msg))
    assert "Verified OK" in r.stdout


def test_three_wrong_auth_pins_lock_it_and_certificates_stay_readable(inserted, issued):
    for _ in range(3):
        r = tool("pkcs15-tool", "--verify-pin", "--auth-id", "01", "--pin", "0000", check=False)
        assert r.returncode != 0 and "incorrect" in (r.stdout + r.stderr)
    r = tool("pkcs15-tool", "--verify-pin", "--auth-id", "01", "--pin", AUTH_PIN, check=False)
    assert r.returncode != 0  # blocked: even the right PIN is refused (6984)
    out = tool("pkcs15-tool", "-D").stdout
    assert re.search(r"Tries left\s+: 0", _block(out, "PIN [User Authentication PIN"))
    assert re.search(r"Tries left\s+: 5", _block(out, "PIN [Digital Signature PIN"))
    slots = tool("pkcs11-tool", "--module", PKCS11, "-L").stdout
    slot0 = slots.split("Slot 1")[0]
    assert "user PIN locked" in slot0
    assert _pem_der(tool("pkcs15-tool", "--read-certificate", "01").stdout) == issued.certs["auth"]
    r = tool("pkcs11-tool", "--module", PKCS11, "--slot-index", "0", "--login", "--pin", AUTH_PIN,
             "--sign", "-m", "SHA256-RSA-PKCS", "--id", "01", "-i", "/dev/null", check=False)
    assert r.returncode != 0
