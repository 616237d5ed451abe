"""Helpers of the sandbox tests: an initialised sandbox home whose certificates point at a
loopback port, the app with the sandbox extension (in a thread, or ``openjpki serve`` in a
process), the CLI in process, and the tools we did not write."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import uvicorn
from cryptography.hazmat.primitives import serialization

from openjpki.config import Settings
from openjpki.services.authority_home import initialise_home
from openjpki.services.authority_testing import seed_ca_keys
from openjpki.services.sandbox_mode import resolve_mode
from openjpki.web import create_app
from openjpki.web.api import api_extension
from openjpki.web.sandbox import sandbox_extension

PEM = serialization.Encoding.PEM
ROOTS_DAYS_BACK = 400  # old enough authorities for certificates that have since expired


def real_now() -> datetime:
    return datetime.now(timezone.utc)


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def make_home(path: Path, base_url: Optional[str] = None, *, config: str = "") -> Settings:
    """A home with both authorities (roots from ROOTS_DAYS_BACK days ago); certificates carry
    ``base_url``'s CRL and OCSP addresses when given. ``config`` is added to openjpki.toml."""
    settings = Settings.resolve(path)
    seed_ca_keys(settings.keys_dir)
    urls = dict(crl_url_base=base_url, ocsp_url=base_url + "/ocsp") if base_url else {}
    roots = initialise_home(settings, now=real_now() - timedelta(days=ROOTS_DAYS_BACK), **urls)
    for kind, root in (("sign", roots.sign), ("auth", roots.auth)):
        (path / f"{kind}-root.pem").write_bytes(root.public_bytes(PEM))
    if config:
        with open(settings.config_file, "a", encoding="utf-8") as fh:
            fh.write("\n" + config + "\n")
    return settings


def sandbox_app(settings: Settings, *, mode=None, clock=None, sync_interval: float = 0.0):
    """The app as ``serve`` makes it (API + sandbox), on the real clock by default."""
    mode = mode or resolve_mode(settings)
    return create_app(settings, clock=clock, sync_interval=sync_interval,
                      extensions=[api_extension, sandbox_extension(mode)])


class LiveServer:
    """The app on a loopback socket, served by uvicorn in a thread."""

    def __init__(self, app, sock: socket.socket) -> None:
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)

    def start(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def run(*args: str, timeout: float = 60, env: Optional[dict] = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def openjpki(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The console script's code in a child process (another process than the server)."""
    return run(sys.executable, "-m", "openjpki", "--home", str(home), *args, timeout=timeout)


def http_json(method: str, url: str, body: Optional[dict] = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def openssl_ocsp(url: str, home: Path, kind: str, cert_pem: Path, *extra: str
                 ) -> subprocess.CompletedProcess:
    """``openssl ocsp -url`` for one certificate, the response checked against its root."""
    root = str(home / f"{kind}-root.pem")
    return run("openssl", "ocsp", "-url", url + "/ocsp", "-issuer", root, "-cert", str(cert_pem),
               "-CAfile", root, "-no_nonce", *extra)


def write_pem(path: Path, pem: str) -> Path:
    path.write_text(pem)
    return path


def wait_for(predicate, timeout: float = 10.0, step: float = 0.05):
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > end:
            return value
        time.sleep(step)


def pcsc_ready() -> Optional[str]:
    """Why the PC/SC test cannot run, or None."""
    if not os.environ.get("OPENJPKI_PCSC_READY"):
        return ("OPENJPKI_PCSC_READY is not set: pcscd with the vpcd reader is needed "
                "(scripts/test starts it)")
    return None
