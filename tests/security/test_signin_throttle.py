"""Sign-in throttling that an outsider cannot turn into a lock-out (per account, per client
address and per both), never touching the clerk's API tokens; shown by ``clerk list`` and
cleared by ``clerk set NAME --enable``, both in the audit log."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from openjpki.services import clerk_tokens as T
from openjpki.services import clerks as C
from openjpki.services import signin_throttle as S
from openjpki.store.testing import open_test_store

from .seca_kit import PASSWORD, audit

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store(backend, tmp_path):
    with open_test_store(backend, tmp_path) as st:
        C.add_clerk(st, "tanaka", PASSWORD, now=NOW)
        yield st


def test_wrong_passwords_hold_the_guessing_address_only(store):
    for i in range(S.PAIR_LIMIT):
        assert C.sign_in(store, "tanaka", f"wrong-{i}", now=NOW, address="10.0.0.9") \
            == C.BAD_CREDENTIALS
    held = C.sign_in(store, "tanaka", PASSWORD, now=NOW, address="10.0.0.9")
    assert isinstance(held, C.SignInRefused) and held.locked_until == NOW + S.PAIR_LOCK
    assert isinstance(C.sign_in(store, "tanaka", PASSWORD, now=NOW, address="10.0.0.1"),
                      C.ClerkView)
    later = NOW + S.PAIR_LOCK + timedelta(seconds=1)
    assert isinstance(C.sign_in(store, "tanaka", PASSWORD, now=later, address="10.0.0.9"),
                      C.ClerkView)


def test_guesses_from_many_addresses_cannot_lock_the_clerk_out(store):
    """Beyond ACCOUNT_FREE failures from anywhere each try waits a growing delay — but not
    at an address the clerk signed in from before."""
    assert isinstance(C.sign_in(store, "tanaka", PASSWORD, now=NOW, address="10.0.0.1"),
                      C.ClerkView)
    t = NOW
    for i in range(S.ACCOUNT_FREE + 6):
        t += timedelta(seconds=61)  # past any delay: every try is counted
        C.sign_in(store, "tanaka", "wrong-password", now=t, address=f"192.0.2.{i % 250}")
    fresh = C.sign_in(store, "tanaka", PASSWORD, now=t, address="198.51.100.7")
    assert isinstance(fresh, C.SignInRefused)  # an unknown address waits the delay
    with store.sessions() as s:
        state = S.state_of(s, "tanaka", t)
    assert state.failures > S.ACCOUNT_FREE and state.delayed_until is not None
    assert state.delayed_until - t <= S.ACCOUNT_MAX_DELAY
    assert isinstance(C.sign_in(store, "tanaka", PASSWORD, now=t, address="10.0.0.1"),
                      C.ClerkView)  # the clerk's workstation is never held by others


def test_one_address_trying_many_names_is_held(store):
    for i in range(S.ADDRESS_LIMIT):
        C.sign_in(store, f"nobody{i:02d}", "whatever-password", now=NOW, address="203.0.113.5")
    held = C.sign_in(store, "tanaka", PASSWORD, now=NOW, address="203.0.113.5")
    assert isinstance(held, C.SignInRefused)
    assert isinstance(C.sign_in(store, "tanaka", PASSWORD, now=NOW, address="203.0.113.6"),
                      C.ClerkView)


def test_failed_sign_ins_never_switch_off_api_tokens(store):
    made = T.create_token(store, "tanaka", now=NOW)
    for i in range(S.PAIR_LIMIT * 3):
        C.sign_in(store, "tanaka", f"wrong-{i}", now=NOW, address=f"192.0.2.{i}")
    assert isinstance(T.authenticate(store, made.token, now=NOW), T.Authenticated)


def test_enable_clears_the_hold_and_both_are_audited(store):
    for i in range(S.PAIR_LIMIT):
        C.sign_in(store, "tanaka", f"wrong-{i}", now=NOW)
    state = C.sign_in_state(store, NOW)["tanaka"]
    assert state.held and [a for a, _ in state.locked_addresses] == [S.LOCAL]
    assert state.to_dict()["locked_addresses"][0]["address"] == S.LOCAL
    C.update_clerk(store, "tanaka", active=True, now=NOW, actor="cli")
    assert not C.sign_in_state(store, NOW)["tanaka"].held
    assert isinstance(C.sign_in(store, "tanaka", PASSWORD, now=NOW), C.ClerkView)
    cleared = audit(store, "clerk.sign_in_cleared")
    assert cleared and cleared[-1]["throttles"] >= 1
    failed = audit(store, "clerk.sign_in_failed")
    assert [p["why"] for p in failed].count("password") == S.PAIR_LIMIT


@pytest.mark.slow
def test_no_sequence_of_outside_guesses_locks_the_clerk_out(tmp_path, monkeypatch):
    """Property: whatever wrong passwords come from other addresses, at whatever moments,
    the clerk's right password from the workstation they signed in from before works."""
    from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

    monkeypatch.setattr(C, "SCRYPT_N", 2 ** 4)  # cheap hashes: the property is about counts
    with open_test_store("sqlite", tmp_path) as st_:
        C.add_clerk(st_, "tanaka", PASSWORD, now=NOW)
        assert isinstance(C.sign_in(st_, "tanaka", PASSWORD, now=NOW, address="10.0.0.1"),
                          C.ClerkView)

        @hsettings(max_examples=25, deadline=None,
                   suppress_health_check=[HealthCheck.function_scoped_fixture])
        @given(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 120)), max_size=60))
        def check(guesses):
            t = NOW
            for host, gap in guesses:
                t += timedelta(seconds=gap)
                C.sign_in(st_, "tanaka", "wrong-password", now=t, address=f"192.0.2.{host}")
            assert isinstance(C.sign_in(st_, "tanaka", PASSWORD, now=t, address="10.0.0.1"),
                              C.ClerkView)
        check()


def test_holding_does_not_tell_which_names_exist(store):
    """An unknown name is held after as many wrong passwords as a real one, with the same
    words: the throttle does not enumerate accounts."""
    for name in ("tanaka", "nobody"):
        for i in range(S.PAIR_LIMIT):
            assert C.sign_in(store, name, f"wrong-{i}", now=NOW, address="192.0.2.1") \
                == C.BAD_CREDENTIALS
    held = [C.sign_in(store, name, "another-password", now=NOW, address="192.0.2.1")
            for name in ("tanaka", "nobody")]
    assert all(isinstance(h, C.SignInRefused) for h in held)
    assert held[0].message_en == held[1].message_en
