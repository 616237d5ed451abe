"""What serve does in the background (web.background) seen over HTTP: pre-produced OCSP
responses served by lookup without a signature (``openjpki ocsp produce``, /healthz's
``ocsp.due``), and CRLs published while statuses change, every one fetched complete and
verified by ``openssl crl``."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import select

from live_helpers import LiveServer
from openjpki.services.authority_home import open_authorities
from openjpki.services.authority_setup import PASSPHRASE_ENV
from openjpki.services.authority_testing import PASSPHRASE, issue_sample
from openjpki.store import OcspResponse
from openjpki.web import create_app
from openjpki.web.background import background_extension


def get_path(rec, issuer) -> str:
    der = ocsp.OCSPRequestBuilder().add_certificate(rec.certificate, issuer, hashes.SHA1()).build() \
        .public_bytes(serialization.Encoding.DER)
    return "/ocsp/" + base64.urlsafe_b64encode(der).decode().rstrip("=")


class NoSigning:
    def public_key(self):
        raise AssertionError("no signature on the request path")

    sign = sign_digest = public_key


def test_produced_responses_are_served_by_lookup_and_healthz_counts_what_is_due(home, authority, client, clock):
    settings = home[0]
    records = [issue_sample(authority, kind, now=clock.now - timedelta(hours=1))
               for kind in ("sign", "auth", "auth")]
    authority.revoke(records[2].serial, "keyCompromise", at=clock.now - timedelta(minutes=30))
    assert client.get("/healthz").json()["ocsp"] == {"due": 3, "due_by_authority": {"sign-1": 1, "auth-1": 2}}
    env = {**os.environ, PASSPHRASE_ENV: PASSPHRASE.decode()}
    r = subprocess.run([sys.executable, "-m", "openjpki", "--home", str(settings.home), "ocsp", "produce", "--json",
                        "--jobs", "2"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    # two processes shared the work out: each response signed once
    assert report["jobs"] == 2 and report["signed"] == 3 and report["due"] == {"sign-1": 0, "auth-1": 0}
    assert report["signed_per_cpu_second"] > 0
    assert client.get("/healthz").json()["ocsp"]["due"] == 0
    ctx = client.app.state.openjpki
    ctx.open()
    for a in authority.authorities():
        ctx.service._signers[a.id] = NoSigning()
    with authority.store.engine.connect() as conn:
        stored = dict(conn.execute(select(OcspResponse.serial, OcspResponse.der)).all())
    # the produce command signed at the real time; the app's clock is five minutes behind
    clock.now = clock.now + timedelta(minutes=6)
    for rec, status in zip(records, (ocsp.OCSPCertStatus.GOOD, ocsp.OCSPCertStatus.GOOD,
                                     ocsp.OCSPCertStatus.REVOKED)):
        response = client.get(get_path(rec, authority.root(rec.kind)))
        assert response.status_code == 200 and response.content == stored[rec.serial]
        assert ocsp.load_der_ocsp_response(response.content).certificate_status == status
        assert "max-age=" in response.headers["cache-control"]


def test_every_crl_fetched_while_statuses_change_is_complete_and_verifies(home, authority, clock, tmp_path):
    settings, roots = home
    good = [issue_sample(authority, "sign", now=clock.now - timedelta(hours=1)) for _ in range(12)]
    root_pem = tmp_path / "sign-root.pem"
    root_pem.write_bytes(roots.sign.public_bytes(serialization.Encoding.PEM))
    app = create_app(settings, clock=clock, sync_interval=0.05, extensions=[background_extension])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = LiveServer(app, sock).start()
    stop = threading.Event()

    def revoke_all():
        other = open_authorities(settings)
        for rec in good:
            other.revoke(rec.serial, "affiliationChanged", at=clock.now)
            time.sleep(0.05)
        other.store.dispose()
        stop.set()

    seen: list[tuple[int, int]] = []
    try:
        ctx = app.state.openjpki
        deadline = time.monotonic() + 20
        while not (ctx.crls is not None and ctx.crls.background) and time.monotonic() < deadline:
            time.sleep(0.05)
        changer = threading.Thread(target=revoke_all)
        changer.start()
        partition = good[0].partition
        i = 0
        while not stop.is_set() or len(seen) < 5:
            path = "/crl/sign.crl" if i % 2 == 0 else f"/crl/sign/{partition}.crl"
            with urllib.request.urlopen(server.url + path, timeout=30) as r:
                der = r.read()
            out = tmp_path / f"{i}.crl"
            out.write_bytes(der)
            p = subprocess.run(["openssl", "crl", "-inform", "DER", "-in", str(out), "-noout", "-CAfile",
                                str(root_pem)], capture_output=True, text=True, timeout=60)
            assert p.returncode == 0 and "verify OK" in p.stdout + p.stderr, p.stdout + p.stderr
            crl = x509.load_der_x509_crl(der)
            number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            if i % 2 == 0:
                seen.append((number, len(crl)))
            i += 1
        changer.join(30)
        # published in the background: all twelve within a few rounds, no GET waiting for it
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with urllib.request.urlopen(server.url + "/crl/sign.crl", timeout=30) as r:
                final = x509.load_der_x509_crl(r.read())
            if len(final) == len(good):
                break
            time.sleep(0.1)
        assert {e.serial_number for e in final} == {rec.certificate.serial_number for rec in good}
    finally:
        stop.set()
        server.stop()
    numbers = [n for n, _ in seen]
    counts = [c for _, c in seen]
    assert numbers == sorted(numbers) and counts == sorted(counts)  # newer lists, never shorter
    assert len(set(numbers)) > 1  # regenerated while being fetched

