"""PDF signing with the card through real middleware: pcscd with the vpcd reader, OpenSC's
PKCS#11 module, pyHanko; revocation data from a running `openjpki serve`; checked by
pyHanko's validator (a tool we did not write). Then the holder moves (R4.1): the SIGN
certificate is revoked and a new document signed with the old card fails as revoked."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path

import httpx
import pytest

from openjpki.config import Settings
from openjpki.rules import JST

pytestmark = [pytest.mark.pcsc, pytest.mark.interop]

READER = "Virtual PCD 00 01"  # vpcd port 35964; the card tests use reader 00 00
VPCD = "127.0.0.1:35964"
SIGN_PIN = "ABC123"


def _skip_reason() -> str | None:
    if not os.environ.get("OPENJPKI_PCSC_READY"):
        return ("OPENJPKI_PCSC_READY is not set: pcscd with the vpcd reader is needed "
                "(scripts/test starts it)")
    for module in ("/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
                   os.environ.get("OPENJPKI_PKCS11_MODULE") or ""):
        if module and Path(module).is_file():
            return None
    return "OpenSC's PKCS#11 module is not installed"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _openjpki(home: Path, *args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), *args],
                            stdout=subprocess.DEVNULL, stderr=open(home / f"{args[0]}.log", "w"),
                            **kw)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _card_in_reader(timeout: float = 120) -> None:
    """Until the reader shows the card (its state; ``timeout`` only bounds a hang)."""
    from smartcard.System import readers
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for r in readers():
            if str(r).startswith(READER):
                try:
                    conn = r.createConnection()
                    conn.connect()
                    conn.disconnect()
                    return
                except Exception:  # noqa: BLE001 — not there yet
                    pass
        time.sleep(0.2)
    raise RuntimeError(f"the card did not appear in {READER}")


class _Responder:
    """The app `openjpki serve` runs (OCSP and CRLs on the home's store), served by uvicorn
    on a loopback port in a thread of this process: a real HTTP server, without the start-up
    of another interpreter."""

    def __init__(self, settings: Settings, port: int) -> None:
        import uvicorn

        from openjpki.web import create_app
        config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port,
                                log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.base = f"http://127.0.0.1:{port}"

    def start(self, timeout: float = 30) -> None:
        self.thread.start()
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                if httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the responder did not come up")

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A home whose certificates name a running responder, a holder with a card from the
    counter, the card in the vpcd reader 00 01."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    from openjpki.services.authority_home import initialise_home
    from openjpki.services.counter import (
        Completed, CounterContext, PinEntry, ResidentInput, add_resident, issue_new_card,
    )

    home = tmp_path_factory.mktemp("pdfsign") / "home"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    settings = Settings.resolve(home)
    now = datetime.now(JST)  # serve and pyHanko work on the wall clock
    roots = initialise_home(settings, now=now, crl_url_base=base, ocsp_url=f"{base}/ocsp")
    ctx = dataclasses.replace(CounterContext.from_settings(settings), calendar=None)
    rid = add_resident(ctx, ResidentInput(name="山田　太郎", address="埼玉県川口市青木二丁目1番1号",
                                          birth_date=date(1980, 5, 15), sex="male"), now)["id"]
    out = issue_new_card(ctx, rid, PinEntry(card="1234", sign=SIGN_PIN, auth="5678"), now=now)
    assert isinstance(out, Completed), out
    insert = _openjpki(home, "card", "insert", out.details["virtual_card_id"], "--vpcd", VPCD)
    server = _Responder(settings, port)
    try:
        server.start()
        _card_in_reader()
        yield {"home": home, "ctx": ctx, "resident_id": rid, "root": roots.sign, "base": base,
               "serial": {c.kind: c.serial for c in out.issued}["sign"]}
    finally:
        _stop(insert)
        server.stop()
        ctx.close()


@pytest.fixture
def cli(capsys):
    from openjpki.cli import main

    def run(*args: str):
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 0
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def _wait_revoked_at_responder(world, serial: str, timeout: float = 60) -> None:
    """Until the responder's OCSP answer and its CRL (the addresses in the certificate)
    both show ``serial`` revoked; ``timeout`` only bounds a hang."""
    import base64
    import urllib.parse

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import AuthorityInformationAccessOID

    cert = world["ctx"].authority.get(serial).certificate
    der = ocsp.OCSPRequestBuilder().add_certificate(cert, world["root"], hashes.SHA1()).build()
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ocsp_url = next(d.access_location.value for d in aia
                    if d.access_method == AuthorityInformationAccessOID.OCSP)
    get = ocsp_url.rstrip("/") + "/" + urllib.parse.quote(base64.b64encode(
        der.public_bytes(serialization.Encoding.DER)).decode(), safe="")
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    crl_url = next(n.value for d in cdp for n in (d.full_name or ())
                   if isinstance(n, x509.UniformResourceIdentifier))

    def shown() -> bool:
        try:
            answer = ocsp.load_der_ocsp_response(httpx.get(get, timeout=10).content)
            crl = x509.load_der_x509_crl(httpx.get(crl_url, timeout=10).content)
        except (httpx.HTTPError, ValueError):
            return False
        return (answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
                and answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
                and crl.get_revoked_certificate_by_serial_number(cert.serial_number)
                is not None)
    end = time.monotonic() + timeout
    while not shown():
        assert time.monotonic() < end, f"the responder never showed {serial} revoked"
        time.sleep(0.05)


def _pdf(path: Path) -> Path:
    from reportlab.pdfgen import canvas
    c = canvas.Canvas(str(path))
    c.drawString(72, 720, "OpenJPKI: a document to sign")
    c.showPage()
    c.save()
    return path


def _root(world):
    from asn1crypto import x509 as a_x509
    from cryptography.hazmat.primitives.serialization import Encoding
    return a_x509.Certificate.load(world["root"].public_bytes(Encoding.DER))


def _validate(path: Path, context):
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)
    with open(path, "rb") as f:
        reader = PdfFileReader(f)
        (sig,) = reader.embedded_signatures
        return validate_pdf_signature(sig, context(reader))


def _embedded_context(world):
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    def make(reader):
        dss = DocumentSecurityStore.read_dss(reader)
        assert dss.ocsps and dss.crls, "the OCSP response and the CRL are embedded"
        return dss.as_validation_context({"trust_roots": [_root(world)],
                                          "allow_fetching": False,
                                          "revocation_mode": "hard-fail"})
    return make


def _fresh_crl_context(world, serial: str):
    from asn1crypto import crl as a_crl
    from pyhanko_certvalidator import ValidationContext

    def make(reader):
        signer = reader.embedded_signatures[0].signer_cert
        part = world["ctx"].authority.get(serial).partition
        der = httpx.get(f"{world['base']}/crl/sign/{part}.crl").content
        assert signer.serial_number == int(serial, 16)
        return ValidationContext(trust_roots=[_root(world)], crls=[a_crl.CertificateList.load(der)],
                                 allow_fetching=False, revocation_mode="hard-fail")
    return make


def test_signed_pdf_is_intact_trusted_and_not_revoked(world, cli, tmp_path):
    src = _pdf(tmp_path / "in.pdf")
    code, out, err = cli("--home", str(world["home"]), "client", "sign-pdf", str(src),
                         "--out", str(tmp_path / "signed.pdf"), "--pin", SIGN_PIN,
                         "--reader", READER, "--reason", "申請書への署名", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["serial"] == world["serial"]
    assert answer["revocation"]["ocsp"] >= 1 and answer["revocation"]["crl"] >= 1
    status = _validate(tmp_path / "signed.pdf", _embedded_context(world))
    assert status.intact and status.valid and status.trusted
    assert not status.revoked and status.bottom_line
    world["before_move"] = tmp_path / "signed.pdf"


def test_wrong_pin_is_counted_by_the_card(world, cli, tmp_path):
    code, out, err = cli("client", "sign-pdf", str(_pdf(tmp_path / "in.pdf")), "--out",
                         str(tmp_path / "x.pdf"), "--pin", "WRONG9", "--reader", READER)
    assert code == 1 and "R1.4" in err and "4" in err
    assert not (tmp_path / "x.pdf").exists()


def test_R4_1_after_a_move_the_old_card_signs_nothing_valid(world, cli, tmp_path):
    from openjpki.services.register import move

    result = move(world["ctx"], world["resident_id"], "埼玉県川口市本町四丁目1番1号",
                  datetime.now(JST))
    assert [e.serial for e in result.ended] == [world["serial"]]
    # The revocation was made by this process's counter; the responder learns of it at its
    # next sync. Wait until its OCSP and CRL say so (the condition the client checks), not
    # for a fixed delay.
    _wait_revoked_at_responder(world, world["serial"])
    src = _pdf(tmp_path / "in.pdf")
    # With revocation checking (the default) the client refuses, naming R4.1.
    code, out, err = cli("client", "sign-pdf", str(src), "--out", str(tmp_path / "a.pdf"),
                         "--pin", SIGN_PIN, "--reader", READER)
    assert code == 1 and "R4.1" in err and not (tmp_path / "a.pdf").exists()
    # Forced without it, the signature is made, and the validator finds it revoked.
    code, out, err = cli("client", "sign-pdf", str(src), "--out", str(tmp_path / "b.pdf"),
                         "--pin", SIGN_PIN, "--reader", READER, "--no-revocation-info")
    assert code == 0, err
    status = _validate(tmp_path / "b.pdf", _fresh_crl_context(world, world["serial"]))
    assert status.intact and status.revoked and not status.bottom_line
    # A document signed before the move still validates on the data embedded then (B-LT).
    if "before_move" in world:
        before = _validate(world["before_move"], _embedded_context(world))
        assert before.bottom_line and not before.revoked
