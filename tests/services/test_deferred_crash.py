"""R5.9 under fire: with the authorities switched off, 100 applications are accepted by a real
``openjpki serve``; the server is killed with SIGKILL and restarted (the queue is intact);
the authorities come back and the server's worker starts on the queue; it is SIGKILLed again
in the middle of the work; ``openjpki worker --drain`` finishes. Every application is then
completed exactly once: 200 certificates, no duplicate, every item done once, 100 letters
returning the cards, no card left over from the interrupted work, the audit chain intact.

Speed only, not semantics: the processes are the real CLI started through a three-line
bootstrap that makes the cards draw their "new" RSA keys from a pool of 16 pre-generated keys
(generation would cost ~0.2 s a key, 200 keys here); and the home is on tmpfs when there is
one (the card store fsyncs every command). SIGKILL is a process crash, which tmpfs survives
like a disk; power loss is not what this test is about.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy import func, select, text

from openjpki.config import Settings
from openjpki.rules import JST

N = 100
PINS = {"card": "1234", "sign": "ABC123", "auth": "5678"}
BOOT = """
import itertools, os, sys
from cryptography.hazmat.primitives import serialization
from openjpki.card import rsaops
marker = b"-----END PRIVATE KEY-----"
chunks = open(os.environ["OPENJPKI_TEST_KEY_POOL"], "rb").read().split(marker)
keys = [serialization.load_pem_private_key(c + marker, None) for c in chunks if c.strip()]
pool = itertools.cycle(keys)
rsaops.generate_key = lambda: next(pool)
from openjpki.cli import main
sys.argv[0] = "openjpki"
main(sys.argv[1:])
"""
ALWAYS_OPEN = """
[offices.always]
name_ja = "試験窓口"
name_en = "Test counter"
weekdays = "00:00-23:59"
weekends_holidays = "00:00-23:59"
"""

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def home(tmp_path) -> Iterator[Path]:
    base = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else tmp_path
    d = Path(tempfile.mkdtemp(prefix="openjpki-crash-", dir=base))
    try:
        h = d / "home"
        h.mkdir()
        (h / "always.toml").write_text(ALWAYS_OPEN, encoding="utf-8")
        (h / "openjpki.toml").write_text(
            '[counter]\ncalendar = "always.toml"\ndefault_office = "always"\n',
            encoding="utf-8")
        yield h
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def key_pool_file(tmp_path_factory) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    path = tmp_path_factory.mktemp("pool") / "keys.pem"
    with open(path, "wb") as fh:
        for _ in range(16):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            fh.write(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return path


def _cli(home: Path, pool: Path, *args: str) -> list[str]:
    return [sys.executable, "-c", BOOT, "--home", str(home), *args]


def _env(pool: Path) -> dict:
    return {**os.environ, "OPENJPKI_TEST_KEY_POOL": str(pool)}


@contextmanager
def serve(home: Path, pool: Path) -> Iterator[tuple[httpx.Client, subprocess.Popen]]:
    port = free_port()
    log = open(home.parent / f"serve-{port}.log", "wb")
    proc = subprocess.Popen(_cli(home, pool, "serve", "--port", str(port)), env=_env(pool),
                            stdout=log, stderr=subprocess.STDOUT)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (home.parent / f"serve-{port}.log").read_text()
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "serve did not come up"
            time.sleep(0.2)
        yield client, proc
    finally:
        client.close()
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()


def kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def counts(client: httpx.Client) -> dict:
    return client.get("/api/deferred", params={"limit": 1}).json()["counts"]


def _avoid_the_last_minute_of_the_day() -> None:
    """The test office is open 00:00-23:59 JST (its calendar cannot say 24:00)."""
    now = datetime.now(JST)
    if now.hour == 23 and now.minute == 59:
        time.sleep(61 - now.second)


def test_R5_9_sigkill_and_restart_lose_nothing_and_complete_each_item_exactly_once(
        home, key_pool_file):
    _avoid_the_last_minute_of_the_day()
    pool = key_pool_file
    with serve(home, pool) as (api, proc):
        r = api.put("/api/authorities/availability",
                    json={"available": False, "reason": "central system down"})
        assert r.status_code == 200 and r.json()["available"] is False
        applications = []
        for i in range(N):
            r = api.post("/api/residents", json={
                "name": f"耐障害　{i:03d}", "address": f"埼玉県川口市青木二丁目{i + 1}番1号",
                "birth_date": "1980-05-15", "sex": "male"})
            assert r.status_code == 201, r.text
            r = api.post("/api/counter/issuance", json={"resident_id": r.json()["id"],
                                                        "pins": PINS})
            assert r.status_code == 202 and r.json()["outcome"] == "deferred", r.text
            applications.append(r.json())
        assert counts(api)["queued"] == N
        kill(proc)  # the server dies with 100 cards and their sealed PINs in its keeping

    with serve(home, pool) as (api, proc):
        c = counts(api)
        assert c["queued"] == N and c["done"] == 0  # nothing lost, nothing done while off
        r = api.put("/api/authorities/availability", json={"available": True})
        assert r.status_code == 200
        deadline = time.monotonic() + 120
        while counts(api)["done"] < 10:
            assert time.monotonic() < deadline, "the server's worker made no progress"
            time.sleep(0.05)
        kill(proc)  # in the middle of the work

    # A worker process finishes what is left (items the killed server held are recovered).
    done = subprocess.run(_cli(home, pool, "worker", "--drain", "--sweep-age", "0", "--json"),
                          env=_env(pool), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr

    _check_exactly_once(home, applications)


def _check_exactly_once(home: Path, applications: list[dict]) -> None:
    from openjpki.card import CardStore
    from openjpki.services.audit import verify
    from openjpki.store import Certificate, Store
    from openjpki.store.counter_models import Application, Card, CardCertificate, Letter
    from openjpki.store.deferred import DeferredItem

    settings = Settings.resolve(home)
    store = Store.open(settings.effective_database_url)
    try:
        with store.sessions() as s:
            items = s.execute(select(DeferredItem)).scalars().all()
            assert len(items) == N
            assert {i.state for i in items} == {"done"}
            assert all(i.pins_sealed is None and i.letter_id for i in items)
            assert {i.application_id for i in items} == {a["application_id"]
                                                         for a in applications}
            # Each item completed once: one completion entry in the audit log each.
            per_item = s.execute(text(
                "SELECT payload FROM audit_log WHERE action = 'deferred.completed'")
            ).scalars().all()
            completed = [json.loads(p)["item_id"] if isinstance(p, str) else p["item_id"]
                         for p in per_item]
            assert sorted(completed) == sorted(i.id for i in items)
            # 200 certificates, each serial once, two per resident, two per card.
            serials = s.execute(select(Certificate.serial)).scalars().all()
            assert len(serials) == 2 * N and len(set(serials)) == 2 * N
            per_resident = s.execute(select(Certificate.resident_id, func.count())
                                     .group_by(Certificate.resident_id)).all()
            assert len(per_resident) == N and {n for _, n in per_resident} == {2}
            assert s.execute(select(func.count()).select_from(CardCertificate)).scalar_one() \
                == 2 * N
            cards = s.execute(select(Card)).scalars().all()
            assert len(cards) == N and len({c.resident_id for c in cards}) == N
            assert {a.state for a in s.execute(select(Application)).scalars()} == {
                "completed"}
            letters = s.execute(select(Letter).where(Letter.kind == "card_return")
                                ).scalars().all()
            assert len(letters) == N and len({x.application_id for x in letters}) == N
            assert {x.payload["delivery"] for x in letters} == {"本人限定郵便"}
            attempts = sorted(i.attempts for i in items)
        # The worker swept what the killed attempt left: the card store holds the 100 cards.
        assert set(CardStore(settings.cards_dir).list()) == {c.virtual_card_id for c in cards}
        assert verify(store).ok
        assert attempts[-1] <= 3 and sum(attempts) <= N + 3
    finally:
        store.dispose()

