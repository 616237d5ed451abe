"""A log-in reads in one statement and writes in one transaction, and what it decides on is
read at the call: a revocation, a hold or a move recorded a moment before (by this process
or another writer of the store) is seen by the next log-in; the audit chain stays whole."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import event

from openjpki.services.audit import verify
from openjpki.services.platform import Call, open_platform

from rp.conftest import AT
from .kit import signed


def _platform(home):
    return open_platform(home.service, home.settings.keys_dir, sandbox=True)


def _login(platform, holder, sender, at):
    raw = json.dumps(signed("login", sender, holder["auth"], holder["auth_key"])).encode()
    return platform.handle(Call.LOGIN, raw, at)


def _registered(platform, holder, sender, at):
    raw = json.dumps(signed("registration", sender, holder["sign"], holder["sign_key"])).encode()
    assert platform.handle(Call.REGISTRATION, raw, at).status == 200
    assert _login(platform, holder, sender, at).status == 200  # the AUTH link made


def _statements(engine):
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_a):
        seen.append(statement.split(None, 1)[0].upper())
    event.listen(engine, "before_cursor_execute", note)
    return seen, lambda: event.remove(engine, "before_cursor_execute", note)


def test_a_linked_login_is_one_read_and_one_write_transaction(home, holder):
    platform, sender = _platform(home), f"SP-{uuid.uuid4().hex[:8]}"
    at = AT + timedelta(minutes=1)
    _registered(platform, holder, sender, at)
    seen, stop = _statements(home.service.store.engine)
    try:
        answer = _login(platform, holder, sender, at)
    finally:
        stop()
    assert answer.status == 200, answer.body
    reads = [s for s in seen if s == "SELECT"]
    writes = [s for s in seen if s in ("INSERT", "UPDATE", "DELETE")]
    assert len(reads) == 1, seen  # provider, AUTH and SIGN records, registration: one statement
    # the nonce, the chained entry; the chain's head locked, read and moved (at most two UPDATEs)
    assert writes.count("INSERT") == 2 and 1 <= writes.count("UPDATE") <= 2, seen
    assert verify(home.service.store).ok


def test_a_revocation_just_recorded_is_seen_by_the_next_login(home, holder):
    platform, sender = _platform(home), f"SP-{uuid.uuid4().hex[:8]}"
    at = AT + timedelta(minutes=2)
    _registered(platform, holder, sender, at)
    auth = format(holder["auth"].serial_number, "x")
    home.service.revoke(auth, "certificateHold", at=at)
    answer = _login(platform, holder, sender, at + timedelta(seconds=1))
    assert answer.status == 401, answer.body


def test_a_sign_certificate_revoked_just_now_makes_the_next_login_410(home, holder):
    platform, sender = _platform(home), f"SP-{uuid.uuid4().hex[:8]}"
    at = AT + timedelta(minutes=3)
    _registered(platform, holder, sender, at)
    home.service.revoke(format(holder["sign"].serial_number, "x"), "affiliationChanged", at=at)
    answer = _login(platform, holder, sender, at + timedelta(seconds=1))
    assert answer.status == 410, answer.body
    assert verify(home.service.store).ok
