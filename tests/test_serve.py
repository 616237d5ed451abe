"""``openjpki serve`` as the README runs it: from an empty home it initialises itself and
answers /healthz, the CRLs, the JSON API and /openapi.json on a free loopback port; SIGTERM
stops it cleanly. The same on
PostgreSQL with --database-url when $OPENJPKI_TEST_POSTGRES_URL is set: production mode, where
the API answers a clerk's API token only (401 without)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from cryptography import x509

from openjpki.store.testing import POSTGRES_SKIP_REASON, postgres_schema_url, postgres_url

OPENJPKI = str(Path(sys.executable).with_name("openjpki"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(home: Path, *extra: str, timeout: float = 60.0, serve_args: tuple[str, ...] = ()
            ) -> Iterator[tuple[str, subprocess.Popen]]:
    port = free_port()
    log = open(home.parent / f"serve-{port}.log", "wb")
    proc = subprocess.Popen([OPENJPKI, "--home", str(home), *extra, "serve", "--port", str(port),
                             *serve_args],
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"serve exited with {proc.returncode}: "
                                     + (home.parent / f"serve-{port}.log").read_text())
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("serve did not answer /healthz in time")
            time.sleep(0.2)
        yield base, proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def _check(base: str, headers: dict | None = None) -> None:
    health = httpx.get(base + "/healthz").json()
    assert health["status"] == "ok" and {a["kind"] for a in health["authorities"]} == {
        "sign", "auth"}
    r = httpx.get(base + "/crl/sign.crl")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(r.content)
    assert len(list(crl)) == 0
    assert httpx.get(base + "/crl/auth.crl").status_code == 200
    api = httpx.Client(headers=headers or {})
    r = api.post(base + "/api/residents", json={
        "name": "山田　太郎", "address": "埼玉県川口市青木二丁目1番1号",
        "birth_date": "1980-05-15", "sex": "male"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    assert api.get(f"{base}/api/residents/{rid}").json()["cards"] == []
    assert api.get(base + "/api/deferred").json()["counts"]["queued"] == 0
    assert api.get(base + "/api/authorities/availability").json()["available"] is True
    assert api.get(base + "/api/residents/999999").status_code == 404
    spec = httpx.get(base + "/openapi.json").json()
    assert "/api/counter/issuance" in spec["paths"]
    assert httpx.get(base + "/docs").status_code == 200


def test_serve_initialises_an_empty_home_and_answers(tmp_path):
    """(A restart on the same home is exercised by tests/services/test_deferred_crash.py.)"""
    home = tmp_path / "home"  # does not exist yet
    with serving(home) as (base, proc):
        landing = httpx.get(base + "/")
        assert landing.status_code == 200 and "text/html" in landing.headers["content-type"]
        assert "公的個人認証サービス" in landing.text and 'href="/counter"' in landing.text
        _check(base)
        assert (home / "openjpki.sqlite3").exists() and (home / "keys").is_dir()
        port = base.rsplit(":", 1)[1]
        said = (home.parent / f"serve-{port}.log").read_text()
    assert proc.returncode in (0, -signal.SIGTERM)
    # What serve says first: where, the home, the mode, and the next commands.
    assert f"OpenJPKI listening on {base}/" in said
    assert f"home: {home}" in said and "sandbox mode (" in said
    assert "openjpki serve --demo" in said  # an empty sandbox home: the demo is offered
    assert "openjpki clerk add admin --role supervisor" in said
    if "Uvicorn running" in said:
        assert said.index("OpenJPKI listening") < said.index("Uvicorn running")


@pytest.mark.slow
def test_serve_demo_seeds_the_demo_first(tmp_path):
    home = tmp_path / "home"
    with serving(home, timeout=180.0, serve_args=("--demo",)) as (base, proc):
        residents = httpx.get(base + "/api/residents").json()
        assert len(residents) >= 5
    port = base.rsplit(":", 1)[1]
    said = (home.parent / f"serve-{port}.log").read_text()
    assert "residents with cards in every state are seeded" in said, said
    assert "no residents yet" not in said


@pytest.mark.postgres
def test_serve_on_postgresql(tmp_path):
    base_url = postgres_url()
    if base_url is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with postgres_schema_url(base_url) as url:
        home = tmp_path / "home"
        with serving(home, "--database-url", url) as (base, _):
            r = httpx.get(base + "/api/residents")
            assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
            cli = [OPENJPKI, "--home", str(home), "--database-url", url, "clerk"]
            env = {**os.environ, "OPENJPKI_CLERK_PASSWORD": "a-long-enough-password"}
            subprocess.run([*cli, "add", "tanaka"], env=env, check=True, timeout=60,
                           capture_output=True)
            token = subprocess.run([*cli, "token", "create", "tanaka"], check=True, timeout=60,
                                   capture_output=True, text=True).stdout.strip()
            _check(base, {"Authorization": f"Bearer {token}"})
        assert not (home / "openjpki.sqlite3").exists()


def test_serve_refuses_a_bad_port_with_one_line(tmp_path):
    r = subprocess.run([OPENJPKI, "--home", str(tmp_path / "h"), "serve", "--port", "99999"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


if os.name != "posix":  # pragma: no cover
    pytest.skip("POSIX signals", allow_module_level=True)
