"""Try limits hold under 50 clients at the same moment, on SQLite and on PostgreSQL: the
clerks' sign-in against a real ``openjpki serve`` over loopback sockets (each try counted in
one atomic statement before the password is checked), the counter held in the store's own
transactions (``BEGIN IMMEDIATE`` on SQLite), and the relying party's single-use challenges."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from openjpki.services import clerks as C
from openjpki.store.engine import Store

from .seca_kit import PASSWORD, at_once, audit, client, csrf_of, served_home

CLIENTS = 50

pytestmark = pytest.mark.slow


def _add_clerk(settings) -> None:
    store = Store.open(settings.effective_database_url)
    try:
        from datetime import datetime, timezone
        C.add_clerk(store, "tanaka", PASSWORD, now=datetime.now(timezone.utc))
    finally:
        store.dispose()


def _sign_in(c, password: str) -> int:
    token, _ = csrf_of(c, "/counter/login")
    return c.post("/counter/login", data={"csrf_token": token, "name": "tanaka",
                                          "password": password}).status_code


def test_50_parallel_wrong_clerk_passwords_are_held_at_the_limit(tmp_path, backend,
                                                                   monkeypatch):
    """Before, 20 wrong passwords at once all got 401 and none locked; the right one then
    signed in. Now at most C.LOCK_AFTER of 50 are checked, the address is held, the clerk
    signs in from another address, and the supervisor sees and clears the hold."""
    with served_home(tmp_path, backend, monkeypatch, prepare=_add_clerk) as srv:
        clients = [client(srv.url) for _ in range(CLIENTS)]
        tokens = [csrf_of(c, "/counter/login")[0] for c in clients]
        statuses = at_once(CLIENTS, lambda i: clients[i].post(
            "/counter/login", data={"csrf_token": tokens[i], "name": "tanaka",
                                    "password": f"wrong-password-{i}"}).status_code)
        assert statuses == [401] * CLIENTS, statuses
        store = srv.store()
        try:
            failed = audit(store, "clerk.sign_in_failed")
        finally:
            store.dispose()
        checked = [p for p in failed if p.get("why") == "password"]
        assert len(checked) <= C.LOCK_AFTER, len(checked)
        assert len(failed) == CLIENTS
        assert sum(1 for p in failed if p.get("why") == "throttled") >= CLIENTS - C.LOCK_AFTER

        with client(srv.url) as again:
            assert _sign_in(again, PASSWORD) == 401  # held at this address
        with client(srv.url, source="127.0.0.2") as workstation:
            assert _sign_in(workstation, PASSWORD) == 303  # the clerk is not locked out

        listed = srv.cli("clerk", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        import json
        row = next(r for r in json.loads(listed.stdout) if r["name"] == "tanaka")
        assert [a["address"] for a in row["sign_in"]["locked_addresses"]] == ["127.0.0.1"]
        human = srv.cli("clerk", "list")
        assert "held from 127.0.0.1" in human.stdout, human.stdout
        assert srv.cli("clerk", "set", "tanaka", "--enable").returncode == 0
        with client(srv.url) as cleared:
            assert _sign_in(cleared, PASSWORD) == 303
        store = srv.store()
        try:
            assert audit(store, "clerk.sign_in_cleared")
        finally:
            store.dispose()
        for c in clients:
            c.close()


def test_a_read_modify_write_in_a_store_transaction_is_never_lost(tmp_path, backend,
                                                                    monkeypatch):
    """The store's transactions: 50 threads each read a counter and write it plus one (the
    shape of every try counter and single-use mark); none is lost, none fails as locked."""
    from .seca_kit import database

    with database(backend, monkeypatch):
        from openjpki.config import Settings

        store = Store.open(Settings.resolve(tmp_path / "h").effective_database_url)
        try:
            with store.transaction() as s:
                s.execute(text("CREATE TABLE race_probe (id INTEGER PRIMARY KEY, n INTEGER)"))
                s.execute(text("INSERT INTO race_probe VALUES (1, 0)"))
            lock = threading.Lock()
            errors = []

            def bump(_i):
                try:
                    with store.transaction() as s:
                        n = s.execute(text("SELECT n FROM race_probe WHERE id = 1 FOR UPDATE"
                                           if store.dialect == "postgresql" else
                                           "SELECT n FROM race_probe WHERE id = 1")).scalar()
                        s.execute(text("UPDATE race_probe SET n = :n WHERE id = 1"),
                                  {"n": n + 1})
                except Exception as e:  # noqa: BLE001
                    with lock:
                        errors.append(e)
            at_once(CLIENTS, bump)
            with store.sessions() as s:
                assert s.execute(text("SELECT n FROM race_probe")).scalar() == CLIENTS
            assert errors == []
        finally:
            store.dispose()
