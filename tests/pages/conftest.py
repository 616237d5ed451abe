"""Fixtures of the page tests: ONE initialised home and ONE live server for the session — the
real application (``create_app`` with the pages and the JSON API) served by uvicorn on a
free loopback port, in a thread of the test process so that its clock can be set by the
tests — and ONE headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), with a
fresh browser context (cookies) per test. Screenshots go to ``test-artifacts/pages/``.

Speed only: the cards draw their "new" RSA keys from a pool made once per session (card
key generation costs ~0.3 s a key here); everything else is the real thing.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from openjpki.rules import JST

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "pages"
T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)  # a Tuesday morning: city hall and kiosks open
ROOTS_MADE = datetime(2025, 1, 6, 9, 0, tzinfo=JST)
SUPERVISOR = ("boss", "supervisor-pass-1")
CLERK = ("clerk1", "clerk-password-1")


class Clock:
    """The server's clock, set by the tests."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="session")
def clock() -> Clock:
    return Clock()


@pytest.fixture(autouse=True)
def _clock_reset(clock):
    clock.now = T0
    yield
    clock.now = T0


@pytest.fixture(scope="session")
def _fast_card_keys():
    from cryptography.hazmat.primitives.asymmetric import rsa

    from openjpki.card import rsaops

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(8)]
    pool = itertools.cycle(keys)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rsaops, "generate_key", lambda: next(pool))
        yield


@pytest.fixture(scope="session")
def home(tmp_path_factory, _fast_card_keys):
    """An initialised home with a supervisor and a clerk."""
    from openjpki.config import Settings
    from openjpki.services.authority_home import initialise_home, open_authorities
    from openjpki.services.clerks import add_clerk

    settings = Settings.resolve(tmp_path_factory.mktemp("pages-home"))
    initialise_home(settings, now=ROOTS_MADE)
    service = open_authorities(settings)
    try:
        add_clerk(service.store, SUPERVISOR[0], SUPERVISOR[1], role="supervisor",
                  display_name="窓口 監督者", now=ROOTS_MADE)
        add_clerk(service.store, CLERK[0], CLERK[1], role="clerk", display_name="窓口 職員",
                  now=ROOTS_MADE)
    finally:
        service.store.dispose()
    return settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(home, clock):
    """The live server: (base URL, the app)."""
    import uvicorn

    from openjpki.web import create_app
    from openjpki.web.api import api_extension
    from openjpki.web.pages import pages_extension

    app = create_app(home, clock=clock, sync_interval=0.0,
                     extensions=[api_extension, pages_extension])
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            access_log=False, lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, name="pages-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", app
    srv.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def base_url(server) -> str:
    return server[0]


@pytest.fixture(scope="session")
def counter(server):
    """The server's own counter context (for seeding residents and looking at cards)."""
    return server[1].state.openjpki_pages.counter("tests")


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, and later tests that call asyncio.run() (pyhanko-certvalidator) would fail.
@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (Debian package chromium; scripts/setup --test "
                    "installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, base_url, request):
    """A fresh browser context (no cookies) at a tablet's size, Japanese first."""
    context = browser.new_context(base_url=base_url, locale="ja-JP",
                                  viewport={"width": 1024, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.shots = Shots(pg, request.node.name)  # type: ignore[attr-defined]
    try:
        yield pg
    finally:
        context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


class Shots:
    """Numbered screenshots of one test under test-artifacts/pages/."""

    def __init__(self, pg, name: str) -> None:
        self.pg = pg
        self.name = "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
        self.n = itertools.count(1)

    def __call__(self, step: str, *, full: bool = False) -> Path:
        """The viewport (the whole page with ``full``: ~1 s each, so only where it shows
        more than the top)."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{self.name}-{next(self.n):02d}-{step}.png"
        self.pg.screenshot(path=str(path), full_page=full)
        return path


@pytest.fixture(scope="session", autouse=True)
def _clean_artifacts():
    if ARTIFACTS.exists():
        shutil.rmtree(ARTIFACTS, ignore_errors=True)
    yield
