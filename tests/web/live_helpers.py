"""Helpers of the web tests: a movable clock, an initialised home, a live server on a free
loopback port."""

import socket
import threading
import time
from datetime import datetime, timedelta, timezone

import uvicorn

from openjpki.config import Settings
from openjpki.services.authority_home import initialise_home
from openjpki.services.authority_setup import PASSPHRASE_ENV
from openjpki.services.authority_testing import PASSPHRASE, seed_ca_keys
from openjpki.web import create_app


class Clock:
    """A clock tests can move; starts at the real time (openssl checks validity against it)."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0) - timedelta(minutes=5)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> datetime:
        self.now += timedelta(**kw)
        return self.now


def make_home(tmp_path, monkeypatch, clock, **options):
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
    settings = Settings.resolve(tmp_path / "home")
    seed_ca_keys(settings.keys_dir)
    roots = initialise_home(settings, now=clock.now - timedelta(days=1), **options)
    return settings, roots


class LiveServer:
    """``app`` served by uvicorn in a thread; ``config``: more uvicorn options (``http=`` the
    protocol ``openjpki serve`` uses, ``timeout_keep_alive=`` …)."""

    def __init__(self, app, sock, **config) -> None:
        self.app = app
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", **config)
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


def start_live(tmp_path, clock):
    """Initialise a home whose certificates point at a free loopback port, and serve it there.
    The CA passphrase must be in the environment (PASSPHRASE_ENV)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings.resolve(tmp_path / "home")
    seed_ca_keys(settings.keys_dir)
    roots = initialise_home(settings, now=clock.now - timedelta(days=1), crl_url_base=base,
                            ocsp_url=base + "/ocsp")
    server = LiveServer(create_app(settings, clock=clock, sync_interval=0), sock).start()
    return settings, roots, server
