"""Checked by a tool we did not write: after a move, openssl sees the old SIGN certificate as
revoked in the SIGN authority's CRL, and the re-issued one (new address) as valid."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date

import pytest
from cryptography.hazmat.primitives import serialization

from openjpki.services import register
from openjpki.services.counter import Completed, reissue_sign

from .kit import PINS, at, card_certificate, holder_with_card

pytestmark = pytest.mark.interop


def pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_sees_the_move_in_the_crl(ctx, tmp_path):
    day = at(date(2025, 6, 2))
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    old = card_certificate(ctx, vid, "sign")
    register.move(ctx, rid, "埼玉県川口市本町一丁目2番3号", day)
    register.change_card_particulars(ctx, rid, day)
    out = reissue_sign(ctx, rid, PINS, now=day)
    assert isinstance(out, Completed)
    new = card_certificate(ctx, vid, "sign")
    crl = ctx.authority.crl("sign", now=day)
    (tmp_path / "root.pem").write_bytes(pem(ctx.authority.root("sign")))
    (tmp_path / "crl.der").write_bytes(crl.der)
    subprocess.run(["openssl", "crl", "-inform", "DER", "-in", tmp_path / "crl.der",
                    "-out", tmp_path / "crl.pem"], check=True)
    (tmp_path / "old.pem").write_bytes(pem(old))
    (tmp_path / "new.pem").write_bytes(pem(new))

    def verify(name: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["openssl", "verify", "-attime", str(int(day.timestamp())), "-crl_check",
             "-CAfile", tmp_path / "root.pem", "-CRLfile", tmp_path / "crl.pem",
             tmp_path / name], capture_output=True, text=True)

    r = verify("old.pem")
    assert r.returncode != 0 and "certificate revoked" in (r.stdout + r.stderr)
    r = verify("new.pem")
    assert r.returncode == 0, r.stdout + r.stderr
    text = subprocess.run(["openssl", "crl", "-in", tmp_path / "crl.pem", "-noout", "-text"],
                          capture_output=True, text=True, check=True).stdout
    assert "Affiliation Changed" in text
    assert format(old.serial_number, "X").upper() in text.replace(":", "").upper()
