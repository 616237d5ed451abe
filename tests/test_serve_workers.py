"""`openjpki serve --workers N` starts N processes, each serving the whole app: the JSON API,
the sandbox controls (sandbox mode on SQLite) and the CRLs — not a reduced app."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

OPENJPKI = str(Path(sys.executable).with_name("openjpki"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_with_two_workers_serves_api_and_sandbox(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([OPENJPKI, "--home", str(tmp_path / "h"), "serve", "--port", str(port),
                             "--workers", "2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("serve --workers 2 did not answer /healthz")
        for _ in range(6):  # several requests, so both processes answer some
            assert httpx.get(f"{base}/api/sandbox/time", timeout=10).status_code == 200
            assert httpx.get(f"{base}/api/residents", timeout=10).status_code == 200
            r = httpx.get(f"{base}/crl/sign.crl", timeout=10)
            assert r.status_code == 200 and r.headers["content-type"] == "application/pkix-crl"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert out.decode().count("Started server process") == 2, out.decode()[-2000:]
