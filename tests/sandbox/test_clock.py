"""The sandbox clock: parsing, the three modes, persistence across processes, the audit
trail, and the running app reading a change made elsewhere (within its sync interval)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from openjpki.rules import JST
from openjpki.services.audit import verify
from openjpki.services.authority_home import open_authorities
from openjpki.services.sandbox_clock import (
    advance_clock, parse_duration, parse_moment, read_clock, reset_clock, set_clock,
)
from openjpki.services.sandbox_live import LiveSandbox

from .kit import make_home, real_now


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return make_home(tmp_path_factory.mktemp("clock") / "home")


@pytest.fixture
def store(home):
    service = open_authorities(home)
    reset_clock(service.store, real=real_now())
    yield service.store
    reset_clock(service.store, real=real_now())
    service.store.dispose()


@pytest.mark.parametrize("text, expected", [
    ("2030-04-02", datetime(2030, 4, 2, 12, 0, tzinfo=JST)),          # a date: 12:00 JST
    ("2030-04-02T10:00", datetime(2030, 4, 2, 10, 0, tzinfo=JST)),    # no zone: Japan time
    ("2030-04-02T01:00:00Z", datetime(2030, 4, 2, 1, 0, tzinfo=timezone.utc)),
    ("2030-04-02T10:00:00+09:00", datetime(2030, 4, 2, 1, 0, tzinfo=timezone.utc)),
])
def test_moments(text, expected):
    assert parse_moment(text) == expected


@pytest.mark.parametrize("text", ["", "tomorrow", "2030-13-01", "2030-04-02T25:00", "1900-01-01",
                                  "3000-01-01"])
def test_bad_moments(text):
    with pytest.raises(ValueError):
        parse_moment(text)


@pytest.mark.parametrize("text, expected", [
    ("90d", timedelta(days=90)), ("12h", timedelta(hours=12)), ("30m", timedelta(minutes=30)),
    ("45s", timedelta(seconds=45)), ("2w", timedelta(weeks=2)),
    ("1d12h", timedelta(days=1, hours=12)), ("-1d", -timedelta(days=1)),
    ("+1.5h", timedelta(minutes=90)), ("90D", timedelta(days=90)),
])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "d", "90", "3x", "1d-2h", "d90", "99999999d"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_set_runs_on_from_the_moment_and_freeze_stands_still(store):
    real = real_now()
    moment = datetime(2031, 1, 6, 10, 0, tzinfo=JST)
    s = set_clock(store, moment, real=real)
    assert s.mode == "offset" and s.now(real) == moment
    assert read_clock(store).now(real + timedelta(hours=1)) == moment + timedelta(hours=1)
    s = set_clock(store, moment, real=real, freeze=True)
    assert read_clock(store).now(real + timedelta(hours=1)) == moment
    s = advance_clock(store, timedelta(days=90), real=real)
    assert s.mode == "fixed" and read_clock(store).now(real_now()) == moment + timedelta(days=90)
    s = reset_clock(store, real=real)
    assert s.mode == "real" and read_clock(store).now(real) == real


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(st.integers(min_value=-10_000, max_value=10_000), min_size=1, max_size=4),
       frozen=st.booleans())
def test_advances_add_up_whatever_the_mode(store, steps, frozen):
    """advance a, then b, … lands where one advance by a + b + … does."""
    real = real_now()
    start = datetime(2030, 6, 1, 9, 0, tzinfo=JST)
    set_clock(store, start, real=real, freeze=frozen)
    for minutes in steps:
        advance_clock(store, timedelta(minutes=minutes), real=real)
    assert read_clock(store).now(real) == start + timedelta(minutes=sum(steps))


def test_revision_goes_up_with_every_change_and_each_is_audited(store, home):
    real = real_now()
    before = read_clock(store).revision
    set_clock(store, datetime(2030, 1, 1, tzinfo=JST), real=real)
    advance_clock(store, timedelta(days=1), real=real)
    reset_clock(store, real=real)
    assert read_clock(store).revision == before + 3
    from openjpki.services.audit import AuditEntry
    with store.sessions() as s:
        actions = [e.action for e in s.query(AuditEntry).filter(AuditEntry.actor == "sandbox")
                   .order_by(AuditEntry.seq.desc()).limit(3)]
    assert actions == ["sandbox.clock.reset", "sandbox.clock.advance", "sandbox.clock.set"]
    assert verify(store).ok


def test_cli_time_commands(cli, home, store):
    h = home.home
    r = cli(h, "sandbox", "time", "set", "2030-04-02", "--json")
    assert r.code == 0 and r.json()["now"] == "2030-04-02T12:00:00+09:00"
    r = cli(h, "sandbox", "time", "advance", "90d", "--json")
    assert r.json()["now"].startswith("2030-07-01T12:00")
    r = cli(h, "sandbox", "time", "set", "2030-04-02T09:30", "--freeze", "--json")
    assert r.json() == {"now": "2030-04-02T09:30:00+09:00", "mode": "fixed"}
    for by, expected in (("12h", "2030-04-02T21:30:00+09:00"), ("30m", "2030-04-02T22:00:00+09:00")):
        assert cli(h, "sandbox", "time", "advance", by, "--json").json()["now"] == expected
    # persisted: a new store connection (as another process has) reads the same setting
    assert cli(h, "sandbox", "time", "show", "--json").json()["now"] == "2030-04-02T22:00:00+09:00"
    r = cli(h, "sandbox", "time", "reset", "--json")
    now = datetime.fromisoformat(r.json()["now"])
    assert r.json()["mode"] == "real" and abs(now - real_now()) < timedelta(seconds=5)
    r = cli(h, "sandbox", "time", "show")
    assert r.code == 0 and "real clock" in r.out


@pytest.mark.parametrize("args", [("time", "set", "someday"), ("time", "advance", "3x"),
                                  ("time", "set", "2030-02-30")])
def test_cli_bad_usage_is_one_line_exit_2(cli, home, store, args):
    r = cli(home.home, "sandbox", *args)
    assert r.code == 2 and r.err.count("\n") == 1 and r.err.startswith("error:")
    assert "Traceback" not in r.err


def test_live_sandbox_follows_a_change_made_elsewhere_and_tells_its_listeners(store):
    base = real_now()
    live = LiveSandbox(lambda: store, lambda: base, ttl=0.0)
    changes = []
    live.on_change(lambda: changes.append(live.revision))
    assert live() == base
    set_clock(store, datetime(2032, 2, 2, 12, 0, tzinfo=JST), real=base)
    assert live() == datetime(2032, 2, 2, 12, 0, tzinfo=JST)
    assert len(changes) == 2  # the first read, then the change
    assert live() == datetime(2032, 2, 2, 12, 0, tzinfo=JST) and len(changes) == 2
    cached = LiveSandbox(lambda: store, lambda: base, ttl=3600)
    first = cached()
    advance_clock(store, timedelta(days=1), real=base)
    assert cached() == first  # answers from memory until its ttl is up
    assert cached.refresh(force=True) and cached() == first + timedelta(days=1)


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_clock_and_faults_on_each_backend_with_concurrent_writers(backend, tmp_path):
    """The settings row is made once even when two writers race for it, and every change
    counts (the revision) on SQLite and PostgreSQL alike."""
    import threading

    from openjpki.services.sandbox_faults import clear_faults, read_faults, set_fault
    from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url

    if backend == "postgres" and postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    with open_test_store(backend, tmp_path) as s:
        real = real_now()
        errors = []

        def advance():
            try:
                for _ in range(5):
                    advance_clock(s, timedelta(hours=1), real=real)
            except Exception as e:  # noqa: BLE001
                errors.append(e)
        threads = [threading.Thread(target=advance) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        setting = read_clock(s)
        assert setting.revision == 15 and setting.now(real) == real + timedelta(hours=15)
        set_fault(s, "ocsp", "tryLater", now=real, delay_ms=10)
        set_fault(s, "ocsp", "stale", now=real)  # the same scope: replaced, not added
        set_fault(s, "crl", "missing", now=real, kind="sign")
        assert [(f.responder, f.fault, f.scope) for f in read_faults(s).faults] == [
            ("ocsp", "stale", "all"), ("crl", "missing", "sign")]
        assert clear_faults(s, now=real)["faults"] == []
        assert read_clock(s).revision == 19
