"""What the concurrency, replay, throttle, queue-clock and card-outcome tests share: a home
served by ``openjpki serve`` in a child process (SQLite, or PostgreSQL in its own schema),
clients that run at the same moment, and the store read back."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import httpx
from sqlalchemy import select

from openjpki.config import Settings
from openjpki.services.authority_setup import PASSPHRASE_ENV
from openjpki.services.authority_testing import PASSPHRASE
from openjpki.store import Store
from openjpki.store.audit import AuditEntry
from openjpki.store.testing import postgres_schema_url, postgres_url

from sandbox.kit import free_socket, make_home
from serve_process import Serve

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
CHALLENGE = re.compile(r'<code id="challenge">([^<]+)</code>')
PASSWORD = "the-right-password"


@dataclass
class Served:
    home: Path
    settings: Settings
    serve: Serve
    env: dict

    @property
    def url(self) -> str:
        return self.serve.url

    def store(self) -> Store:
        return Store.open(self.settings.effective_database_url)

    def cli(self, *args: str, input: Optional[str] = None, timeout: float = 120
            ) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "openjpki", "--home", str(self.home),
                               *args], capture_output=True, text=True, input=input,
                              timeout=timeout, env=self.env)


_POOL: list = []


def _card_keys_from_a_pool(monkeypatch) -> None:
    """Cards made in this process draw their "new" keys from a pool made once (RSA key
    generation is the slow part of seeding holders; the server's own cards are unchanged)."""
    import itertools

    from cryptography.hazmat.primitives.asymmetric import rsa

    from openjpki.card import rsaops

    if not _POOL:
        _POOL.extend(rsa.generate_private_key(public_exponent=65537, key_size=2048)
                     for _ in range(4))
    cycle = itertools.cycle(_POOL)
    monkeypatch.setattr(rsaops, "generate_key", lambda: next(cycle))


@contextlib.contextmanager
def database(backend: str, monkeypatch) -> Iterator[dict]:
    """The environment that points a home at ``backend`` (a fresh PostgreSQL schema), with
    the test CA passphrase (children inherit it)."""
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE.decode())
    monkeypatch.delenv("OPENJPKI_SERVICE_MODE", raising=False)
    _card_keys_from_a_pool(monkeypatch)
    if backend == "sqlite":
        monkeypatch.delenv("OPENJPKI_DATABASE_URL", raising=False)
        yield {}
        return
    with postgres_schema_url(postgres_url()) as url:
        monkeypatch.setenv("OPENJPKI_DATABASE_URL", url)
        # The store decides production on PostgreSQL; these tests use the sandbox's API.
        monkeypatch.setenv("OPENJPKI_SERVICE_MODE", "sandbox")
        yield {"OPENJPKI_DATABASE_URL": url, "OPENJPKI_SERVICE_MODE": "sandbox"}


@contextlib.contextmanager
def served_home(tmp_path: Path, backend: str, monkeypatch, *extra: str,
                prepare: Callable[[Settings], None] | None = None) -> Iterator[Served]:
    with database(backend, monkeypatch) as env:
        sock = free_socket()
        port = sock.getsockname()[1]
        sock.close()
        home = tmp_path / "home"
        settings = make_home(home, f"http://127.0.0.1:{port}")
        if prepare is not None:
            prepare(settings)
        serve = Serve(home, port, *extra)
        try:
            yield Served(home, settings, serve, dict(os.environ))
        finally:
            serve.stop()


def at_once(n: int, work: Callable[[int], object], timeout: float = 120) -> list:
    """``work(i)`` for i in 0..n-1 in n threads released together (a barrier); the results
    (or the exceptions) in order."""
    barrier = threading.Barrier(n)
    out: list = [None] * n

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            out[i] = work(i)
        except BaseException as e:  # noqa: BLE001 — reported by the caller
            out[i] = e
    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
    return out


def client(base_url: str, source: str = "127.0.0.1") -> httpx.Client:
    """An HTTP client whose connections come from loopback address ``source``."""
    return httpx.Client(base_url=base_url, timeout=60, follow_redirects=False,
                        transport=httpx.HTTPTransport(local_address=source))


def csrf_of(c: httpx.Client, path: str) -> tuple[str, str]:
    """(CSRF token, page) of a GET."""
    r = c.get(path)
    assert r.status_code == 200, (path, r.status_code, r.text[:300])
    m = CSRF.search(r.text)
    assert m, f"no CSRF token on {path}"
    return m.group(1), r.text


def audit(store: Store, action: str) -> list[dict]:
    with store.sessions() as s:
        return [e.payload or {} for e in s.execute(
            select(AuditEntry).where(AuditEntry.action == action)
            .order_by(AuditEntry.seq)).scalars()]


def cli_json(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


PINS = {"card": "1234", "sign": "ABC123", "auth": "5678"}


@dataclass
class Holder:
    resident_id: int
    card_id: int
    virtual_card_id: str


def seed_holders(settings: Settings, n: int = 1, *, now=None) -> list[Holder]:
    """``n`` residents with a new card each, issued at the counter (through the services)."""
    from datetime import date, datetime, timezone

    from openjpki.services.counter import (
        Completed, CounterContext, PinEntry, ResidentInput, add_resident, issue_new_card,
    )

    from dataclasses import replace

    now = now or datetime.now(timezone.utc)
    # No office hours: the tests run at any time of day (R5.8 is not what they are about).
    ctx = replace(CounterContext.from_settings(settings), calendar=None)
    out = []
    try:
        for i in range(n):
            rid = add_resident(ctx, ResidentInput(
                name=f"並行　{chr(0x4E00 + i)}子", address="埼玉県川口市青木二丁目1番1号",
                birth_date=date(1980, 5, 15), sex="female"), now)["id"]
            done = issue_new_card(ctx, rid, PinEntry(card=PINS["card"], sign=PINS["sign"],
                                                     auth=PINS["auth"]), now=now)
            assert isinstance(done, Completed), done
            out.append(Holder(rid, done.card_id, done.details["virtual_card_id"]))
    finally:
        ctx.store.dispose()
    return out


def card_sign(settings: Settings, holder: Holder, kind: str, data: bytes) -> tuple[bytes, bytes]:
    """(signature, certificate DER) made by the holder's card with ``kind``'s key."""
    from openjpki.card import CardStore, sign_file_data

    vc = CardStore(settings.cards_dir).open(holder.virtual_card_id)
    try:
        vc.power_on()
        return sign_file_data(vc, kind, PINS[kind], data)
    finally:
        vc.close()


def sign_answer(settings: Settings, holder: Holder, challenge: str) -> str:
    """What ``openjpki client sign --key auth --json`` prints for ``challenge``."""
    import base64

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from openjpki.card import CardStore, sign_file_data

    vc = CardStore(settings.cards_dir).open(holder.virtual_card_id)
    try:
        vc.power_on()
        signature, der = sign_file_data(vc, "auth", PINS["auth"], challenge.encode())
    finally:
        vc.close()
    pem = x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    return json.dumps({"signature": base64.b64encode(signature).decode(),
                       "certificate": pem.decode()})
