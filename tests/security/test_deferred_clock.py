"""The deferred queue on one clock (R5.9): revocations accepted while the authorities are
off, with the sandbox clock moved forward, then back, then forward again, are each applied
exactly once, and ``openjpki worker --drain`` returns when nothing is runnable (before, the
items stamped at sandbox time were compared with the real clock and never ran)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from openjpki.services.counter import CounterRequest
from openjpki.services.deferred import Deferred, submit
from openjpki.services.deferred_health import guarded_counter
from openjpki.services.sandbox_clock import advance_clock, read_clock
from openjpki.store.models import Certificate

from sandbox.kit import make_home

from .seca_kit import audit, cli_json, database, seed_holders

pytestmark = pytest.mark.slow
N = 4


def _drain(home, env) -> dict:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "openjpki", "--home", str(home), "worker",
                           "--drain", "--idle", "0.05", "--json"], capture_output=True,
                          text=True, timeout=120, env=env)
    return cli_json(done)["outcomes"]


def test_R5_9_queued_revocations_run_once_while_the_sandbox_clock_moves(tmp_path,
                                                                         monkeypatch):
    import os

    with database("sqlite", monkeypatch):
        home = tmp_path / "home"
        settings = make_home(home)
        holders = seed_holders(settings, N)
        ctx, health = guarded_counter(settings, actor="test")
        ctx = replace(ctx, calendar=None)
        store = ctx.store
        try:
            real = datetime.now(timezone.utc)
            advance_clock(store, timedelta(days=90), real=real)
            health.set_switch(False, reason="down for the test", at=real)
            ahead = read_clock(store).now(datetime.now(timezone.utc))
            for h in holders:
                out = submit(ctx, health, CounterRequest("revocation", h.resident_id,
                                                         kinds=("sign",)), now=ahead)
                assert isinstance(out, Deferred), out
            # Nothing is runnable while the authorities are off: drain ends at once.
            assert _drain(home, dict(os.environ)) == {}
            advance_clock(store, -timedelta(days=80), real=datetime.now(timezone.utc))
            health.set_switch(True, reason=None, at=datetime.now(timezone.utc))
            assert _drain(home, dict(os.environ)) == {"done": N}
            advance_clock(store, timedelta(days=400), real=datetime.now(timezone.utc))
            assert _drain(home, dict(os.environ)) == {}

            completed = audit(store, "deferred.completed")
            assert len(completed) == N and {p["outcome"] for p in completed} == {"done"}
            with store.sessions() as s:
                revoked = s.execute(select(func.count()).select_from(Certificate).where(
                    Certificate.kind == "sign", Certificate.status == "revoked")).scalar()
            assert revoked == N
        finally:
            store.dispose()
