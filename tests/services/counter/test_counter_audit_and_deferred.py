"""Every procedure leaves hash-chained audit entries that verify, and whose tampering is
found; no PIN or secret is ever stored in them. Deferred work (R5.9): accept now, carry out
later."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select, text

from openjpki.rules import Refused
from openjpki.services import audit, register
from openjpki.services.counter import (
    Accepted, ApplicantInput, Completed, CounterRequest, InputError, PinEntry, accept,
    change_pin, execute, hold, issue_new_card, renew, reset_pin, revoke,
)
from openjpki.store.audit import AuditEntry
from openjpki.store.counter_models import Application, Card, Letter, Visit

from .kit import PINS, T0, at, holder_with_card, look, person, serials

DAY = at(date(2025, 6, 2))


def run_every_procedure(ctx):
    rid, first = holder_with_card(ctx)
    change_pin(ctx, rid, "auth", "5678", "2468", now=DAY)
    change_pin(ctx, rid, "auth", "0000", "1357", now=DAY)  # refused: a wrong PIN
    reset_pin(ctx, rid, "sign", "1234", "RESET42", now=DAY)
    register.move(ctx, rid, "埼玉県川口市本町一丁目2番3号", DAY)
    register.change_card_particulars(ctx, rid, DAY)
    from openjpki.services.counter import reissue_sign

    reissue_sign(ctx, rid, PINS, now=DAY)
    renew(ctx, rid, PINS, now=at(date(2029, 3, 1)))
    hold(ctx, rid, now=at(date(2029, 3, 2)), kinds=["auth"])
    revoke(ctx, rid, now=at(date(2029, 3, 5)), kinds=["auth"])
    proxy = ApplicantInput(type="voluntary_proxy")
    renew(ctx, rid, PINS, now=at(date(2029, 3, 6)), applicant=proxy)  # refused: no photo ID
    return rid, first


def test_audit_chain_verifies_after_procedures_and_names_them(ctx):
    rid, first = run_every_procedure(ctx)
    report = audit.verify(ctx.store)
    assert report.ok, report
    with ctx.store.transaction() as s:
        actions = [e["action"] for e in audit.trail(s, f"resident:{rid}")]
    for expected in ("register.add", "counter.new_issuance.accepted",
                     "counter.new_issuance.completed", "counter.pin_change.completed",
                     "counter.pin_change.refused", "counter.pin_reset.completed",
                     "register.move", "register.card_particulars",
                     "counter.reissue_after_change.completed", "counter.renewal.completed",
                     "counter.hold.completed", "counter.revocation.completed",
                     "counter.renewal.refused"):
        assert expected in actions, expected


def test_no_pin_or_secret_is_stored_outside_the_card(ctx):
    rid, first = run_every_procedure(ctx)
    pins = {"1234", "ABC123", "5678", "2468", "1357", "RESET42"}
    with ctx.store.engine.connect() as conn:
        for table in ("audit_log", "applications", "visits", "letters"):
            dump = json.dumps([list(map(str, r)) for r in conn.execute(
                text(f"SELECT * FROM {table}"))], ensure_ascii=False)
            for pin in pins:
                assert f'"{pin}"' not in dump and f"'{pin}'" not in dump, (table, pin)
        columns = conn.execute(text("SELECT * FROM cards")).keys()
    assert not any("pin_hash" in c for c in columns)  # R1.6: the card's 住基AP keeps it
    assert "PinEntry(given=" in repr(PINS) and "1234" not in repr(PINS)


@pytest.mark.parametrize("tamper, what", [
    ("UPDATE audit_log SET payload = '{\"rule\": \"R0.0\"}' WHERE seq = {mid}", "altered"),
    ("DELETE FROM audit_log WHERE seq = {mid}", "missing"),
    ("DELETE FROM audit_log WHERE seq = {last}", "head"),
])
def test_audit_tampering_is_detected(ctx, tamper, what):
    run_every_procedure(ctx)
    with ctx.store.transaction() as s:
        last = s.execute(select(AuditEntry.seq).order_by(AuditEntry.seq.desc())).scalars().first()
    mid = last // 2
    with ctx.store.engine.begin() as conn:
        conn.execute(text(tamper.replace("{mid}", str(mid)).replace("{last}", str(last))))
    report = audit.verify(ctx.store)
    assert not report.ok
    assert report.broken_seq == (last if what == "head" else mid)


def test_R5_9_accept_now_execute_later(ctx):
    """The counter keeps the card and the sealed PINs and finishes the work later."""
    rid, first = holder_with_card(ctx)
    req = CounterRequest("renewal", rid)
    accepted = accept(ctx, req, now=at(date(2029, 3, 1)))
    assert isinstance(accepted, Accepted), accepted
    with ctx.store.transaction() as s:
        assert s.get(Application, accepted.application_id).state == "accepted"
    for serial in serials(first).values():
        assert look(ctx, serial).ocsp == "good"  # nothing done yet
    # Later (at night, the office closed: back-office work has no counter hours).
    done = execute(ctx, accepted.application_id, PINS, now=at(date(2029, 3, 2), 22))
    assert isinstance(done, Completed), done
    assert {e.reason for e in done.ended} == {"superseded"}
    with ctx.store.transaction() as s:
        app = s.get(Application, accepted.application_id)
        assert app.state == "completed"
    with pytest.raises(InputError, match="completed"):
        execute(ctx, accepted.application_id, PINS, now=at(date(2029, 3, 2), 22))


def test_R5_9_deferred_new_card(ctx):
    rid = person(ctx)
    accepted = accept(ctx, CounterRequest("new_issuance", rid, new_card=True), now=T0)
    assert isinstance(accepted, Accepted)
    done = execute(ctx, accepted.application_id, PINS, now=at(date(2025, 4, 2)))
    assert isinstance(done, Completed) and {c.kind for c in done.issued} == {"sign", "auth"}


def test_R5_9_deferred_work_refused_by_a_wrong_card_pin_is_recorded(ctx):
    rid, first = holder_with_card(ctx)
    accepted = accept(ctx, CounterRequest("renewal", rid), now=at(date(2029, 3, 1)))
    out = execute(ctx, accepted.application_id, PinEntry(card="0000", sign="ABC123",
                                                          auth="5678"),
                  now=at(date(2029, 3, 2)))
    assert isinstance(out, Refused) and out.rule == "R1.4"
    with ctx.store.transaction() as s:
        app = s.get(Application, accepted.application_id)
        assert (app.state, app.refusal_rule) == ("refused", "R1.4")
        assert s.execute(select(Card.card_pin_failures)).scalar_one() == 1
