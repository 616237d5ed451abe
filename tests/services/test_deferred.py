"""R5.9 deferred counter work: accepted while the authorities are unavailable, kept durably
with the PINs sealed, completed later exactly once, and the card returned by 本人限定郵便.
On SQLite, and on PostgreSQL when $OPENJPKI_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from openjpki.rules import Refused
from openjpki.services.audit import verify
from openjpki.services.counter import (
    Completed, CounterRequest, InquiryMailed, PinEntry, reset_pin,
)
from openjpki.services.deferred import Deferred, get_item, list_items, requeue, submit
from openjpki.services.deferred_worker import DeferredWorker
from openjpki.store import Certificate
from openjpki.store.counter_models import Application, Card, CardCertificate, Letter
from openjpki.store.deferred import DeferredItem
from test_deferred_kit import (  # noqa: F401 — fixtures
    PINS, T0, backend, ca_keys, counter, fast_keys, key_pool, person,
)

pytestmark = pytest.mark.usefixtures("fast_keys")


@pytest.fixture
def env(backend, tmp_path, ca_keys):
    """Both backends: for what the database's locking and transactions decide."""
    with counter(backend, tmp_path, ca_keys) as pair:
        yield pair


@pytest.fixture
def lite(tmp_path, ca_keys):
    """SQLite only: for what does not depend on the database."""
    with counter("sqlite", tmp_path, ca_keys) as pair:
        yield pair


def new_card(rid: int) -> CounterRequest:
    return CounterRequest("new_issuance", rid, new_card=True)


def worker(ctx, health, **kw) -> DeferredWorker:
    return DeferredWorker(ctx, health, clock=lambda: T0, **kw)


def count(ctx, model, *where) -> int:
    with ctx.store.sessions() as s:
        return s.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_R5_9_accepted_while_offline_then_completed_once_with_the_card_returned(env):
    ctx, health = env
    rid = person(ctx)
    health.set_switch(False, reason="central system maintenance", at=T0)
    out = submit(ctx, health, new_card(rid), PINS, now=T0)
    assert isinstance(out, Deferred), out
    body = out.to_dict()
    assert body["outcome"] == "deferred" and body["rule"] == "R5.9"
    assert "central system maintenance" in body["reason"]
    item = get_item(ctx, out.item_id)
    assert item["state"] == "queued" and item["pins_held"] is True
    assert count(ctx, Certificate) == 0

    w = worker(ctx, health)
    assert w.run_once() is None  # still offline: nothing is claimed
    assert get_item(ctx, out.item_id)["state"] == "queued"

    health.set_switch(True, reason=None, at=T0)
    assert w.run_once() == "done"
    assert w.run_once() is None
    item = get_item(ctx, out.item_id)
    assert item["state"] == "done" and item["pins_held"] is False and item["attempts"] == 1
    issued = item["result"]["issued"]
    assert sorted(c["kind"] for c in issued) == ["auth", "sign"]
    assert count(ctx, Certificate) == 2 and count(ctx, CardCertificate) == 2
    with ctx.store.sessions() as s:
        letter = s.get(Letter, item["letter_id"])
        app = s.get(Application, out.application_id)
    assert letter.kind == "card_return" and letter.payload["delivery"] == "本人限定郵便"
    assert letter.payload["outcome"] == "completed" and letter.application_id == app.id
    assert app.state == "completed"
    assert verify(ctx.store).ok


def test_R5_9_pins_are_sealed_at_rest_and_wiped_after_use(lite):
    ctx, health = lite
    rid = person(ctx)
    pins = PinEntry(card="4826", sign="SEALED42", auth="9137")
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, new_card(rid), pins, now=T0)
    assert isinstance(out, Deferred)

    def dump() -> str:
        with ctx.store.engine.connect() as conn:
            rows = []
            for table in ("deferred_items", "applications", "visits", "audit_log", "letters"):
                rows += [list(map(repr, r)) for r in conn.execute(text(f"SELECT * FROM {table}"))]
        return json.dumps(rows, ensure_ascii=False)

    before = dump()
    for pin in ("4826", "SEALED42", "9137"):
        assert pin not in before
    with ctx.store.sessions() as s:
        sealed = s.get(DeferredItem, out.item_id).pins_sealed
    assert sealed and len(sealed) > 28  # nonce + ciphertext + tag
    health.set_switch(True, reason=None, at=T0)
    assert worker(ctx, health).run_once() == "done"
    with ctx.store.sessions() as s:
        assert s.get(DeferredItem, out.item_id).pins_sealed is None
    for pin in ("4826", "SEALED42", "9137"):
        assert pin not in dump()
    # The card got the PINs typed at the counter.
    from openjpki.card import JpkiClient
    vid = get_item(ctx, out.item_id)["result"]["virtual_card_id"]
    vc = ctx.cards.open(vid)
    try:
        vc.power_on()
        c = JpkiClient(vc)
        c.select_jpki()
        c.verify_pin("sign", "SEALED42")
        c.verify_pin("auth", "9137")
    finally:
        vc.close()


def test_available_authorities_complete_at_once_without_the_queue(lite):
    ctx, health = lite
    rid = person(ctx)
    out = submit(ctx, health, new_card(rid), PINS, now=T0)
    assert isinstance(out, Completed)
    assert list_items(ctx) == []


def test_pin_change_needs_no_authorities_and_is_never_deferred(lite):
    ctx, health = lite
    rid = person(ctx)
    assert isinstance(submit(ctx, health, new_card(rid), PINS, now=T0), Completed)
    health.set_switch(False, reason="down", at=T0)
    req = CounterRequest("pin_change", rid, kinds=("auth",))
    out = submit(ctx, health, req, PinEntry(auth="2468", current_auth="5678"), now=T0)
    assert isinstance(out, Completed), out
    assert list_items(ctx) == []


@pytest.mark.parametrize("pins, rule", [
    (PinEntry(card="12", sign="ABC123", auth="5678"), "R1.6"),
    (PinEntry(card="1234", sign="abc", auth="5678"), "R1.3"),
    (PinEntry(card="1234", sign="ABC123", auth="56789"), "R1.3"),
])
def test_R1_3_R1_6_pin_forms_are_refused_at_the_counter_not_queued(lite, pins, rule):
    ctx, health = lite
    rid = person(ctx)
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, new_card(rid), pins, now=T0)
    assert isinstance(out, Refused) and out.rule == rule
    assert list_items(ctx) == []
    with ctx.store.sessions() as s:
        assert s.execute(select(Application.state)).scalar_one() == "refused"


def test_R1_6_wrong_resident_registry_pin_is_refused_before_queueing(lite):
    ctx, health = lite
    rid = person(ctx)
    first = submit(ctx, health, new_card(rid), PINS, now=T0)
    assert isinstance(first, Completed)
    health.set_switch(False, reason="down", at=T0)
    req = CounterRequest("revocation", rid, kinds=("sign",), reason="voluntary")
    assert isinstance(submit(ctx, health, req, now=T0), Deferred)
    renewal = CounterRequest("new_issuance", rid, kinds=("sign",))
    out = submit(ctx, health, renewal, PinEntry(card="9999", sign="XYZ789"), now=T0)
    assert isinstance(out, Refused), out
    assert len(list_items(ctx)) == 1


def test_R4_3_revocation_and_hold_wait_for_the_authorities(lite):
    ctx, health = lite
    rid = person(ctx)
    first = submit(ctx, health, new_card(rid), PINS, now=T0)
    serials = {c.kind: c.serial for c in first.issued}
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, CounterRequest("hold", rid, kinds=("auth",)), now=T0)
    assert isinstance(out, Deferred)
    assert ctx.authority.get(serials["auth"]).status == "good"
    health.set_switch(True, reason=None, at=T0)
    assert worker(ctx, health).run_once() == "done"
    assert ctx.authority.get(serials["auth"]).status == "hold"
    assert ctx.authority.get(serials["sign"]).status == "good"


def test_R5_4_voluntary_proxy_first_visit_mails_the_inquiry_even_while_offline(lite):
    from openjpki.rules.documents import PhotoId, PresentedId
    from openjpki.services.counter import ApplicantInput

    ctx, health = lite
    rid = person(ctx)
    assert isinstance(submit(ctx, health, new_card(rid), PINS, now=T0), Completed)
    assert isinstance(submit(ctx, health, CounterRequest("revocation", rid, kinds=("sign",)),
                             now=T0), Completed)
    health.set_switch(False, reason="down", at=T0)
    proxy = ApplicantInput(type="voluntary_proxy",
                           ids=(PresentedId(PhotoId.DRIVERS_LICENCE),))
    out = submit(ctx, health, CounterRequest("new_issuance", rid, kinds=("sign",),
                                             applicant=proxy), now=T0)
    assert isinstance(out, InquiryMailed) and out.rule == "R5.4", out
    assert list_items(ctx) == []


def test_a_crash_before_the_commit_issues_nothing_and_the_retry_issues_once(env, monkeypatch):
    """Exactly once: the failure comes after the certificates were issued and written to the
    card, just before the done mark; the whole transaction rolls back, the half-made card is
    taken away, and the retry completes the item once."""
    import openjpki.services.deferred_worker as dw

    ctx, health = env
    rid = person(ctx)
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, new_card(rid), PINS, now=T0)
    health.set_switch(True, reason=None, at=T0)
    real = dw._mail_result
    calls = {"n": 0}

    def crash_once(*a, **kw):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("power cut")
        return real(*a, **kw)
    monkeypatch.setattr(dw, "_mail_result", crash_once)
    w = worker(ctx, health, retry_after=0.0)
    assert w.run_once() == "retry"
    item = get_item(ctx, out.item_id)
    assert item["state"] == "queued" and "power cut" in item["last_error"]
    assert item["pins_held"] is True
    assert count(ctx, Certificate) == 0 and count(ctx, Card) == 0
    assert count(ctx, Letter) == 0
    assert ctx.cards.list() == []  # the half-issued card is gone
    assert w.run_once() == "done"
    assert count(ctx, Certificate) == 2 and count(ctx, Letter) == 1
    assert get_item(ctx, out.item_id)["attempts"] == 2
    with ctx.store.sessions() as s:
        vids = set(s.execute(select(Card.virtual_card_id)).scalars())
    assert set(ctx.cards.list()) == vids


def test_an_outage_during_the_work_puts_the_item_back_without_failing_it(env, monkeypatch):
    from openjpki.services.authority_setup import SetupError

    ctx, health = env
    rid = person(ctx)
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, new_card(rid), PINS, now=T0)
    health.set_switch(True, reason=None, at=T0)
    service = ctx.authority.service
    real_issue = service.issue

    def broken(*a, **kw):
        raise SetupError("the HSM does not answer")
    monkeypatch.setattr(service, "issue", broken)
    w = worker(ctx, health, retry_after=0.0, max_attempts=1)
    for _ in range(3):
        assert w.process(w.claim()) == "retry"
    item = get_item(ctx, out.item_id)
    assert item["state"] == "queued" and item["attempts"] == 3  # never parked as failed
    assert health.state().circuit == "open"
    assert w.run_once() is None  # circuit open: the worker waits
    monkeypatch.setattr(service, "issue", real_issue)
    health.reset()
    assert w.run_once() == "done"


def test_errors_that_are_not_an_outage_park_the_item_for_the_operator(lite, monkeypatch):
    import openjpki.services.deferred_worker as dw

    ctx, health = lite
    rid = person(ctx)
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, new_card(rid), PINS, now=T0)
    health.set_switch(True, reason=None, at=T0)
    real = dw._mail_result
    monkeypatch.setattr(dw, "_mail_result", lambda *a, **k: (_ for _ in ()).throw(
        ValueError("printer jam")))
    w = worker(ctx, health, retry_after=0.0, max_attempts=2)
    assert w.run_once() == "retry"
    assert w.run_once() == "failed"
    item = get_item(ctx, out.item_id)
    assert item["state"] == "failed" and item["pins_held"] is True
    assert w.run_once() is None
    monkeypatch.setattr(dw, "_mail_result", real)
    assert requeue(ctx, out.item_id, now=T0)["state"] == "queued"
    assert w.run_once() == "done"
    assert count(ctx, Certificate) == 2


def test_a_refusal_at_execution_is_recorded_and_the_card_returned(lite):
    """R1.6: the resident-registry PIN got locked between acceptance and execution (three
    wrong tries at a PIN reset); the deferred issuance is refused, the card goes back."""
    ctx, health = lite
    rid = person(ctx)
    first = submit(ctx, health, new_card(rid), PINS, now=T0)
    assert isinstance(first, Completed)
    # Revoke SIGN so that a new SIGN may be issued on the card.
    assert isinstance(submit(ctx, health, CounterRequest("revocation", rid, kinds=("sign",)),
                             now=T0), Completed)
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, CounterRequest("new_issuance", rid, kinds=("sign",)),
                 PinEntry(card="1234", sign="NEWSIGN1"), now=T0)
    assert isinstance(out, Deferred), out
    for _ in range(3):
        r = reset_pin(ctx, rid, "auth", "0000", "2468", now=T0)
        assert isinstance(r, Refused)
    health.set_switch(True, reason=None, at=T0)
    assert worker(ctx, health).run_once() == "refused"
    item = get_item(ctx, out.item_id)
    assert item["state"] == "refused" and item["result"]["rule"].startswith("R1.")
    with ctx.store.sessions() as s:
        letter = s.get(Letter, item["letter_id"])
    assert letter.kind == "card_return" and letter.payload["outcome"] == "refused"


def test_an_expired_lease_lets_another_worker_finish_and_the_first_loses(env):
    ctx, health = env
    rid = person(ctx)
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, new_card(rid), PINS, now=T0)
    health.set_switch(True, reason=None, at=T0)
    moment = {"t": T0}
    a = DeferredWorker(ctx, health, clock=lambda: moment["t"], lease=30, ident="h:1:a")
    b = DeferredWorker(ctx, health, clock=lambda: moment["t"], lease=30, ident="h:2:b")
    assert a.claim() == out.item_id
    assert b.claim() is None  # leased
    moment["t"] = T0 + timedelta(seconds=31)
    assert b.claim() == out.item_id
    assert b.process(out.item_id) == "done"
    assert a.process(out.item_id) == "lost"
    assert count(ctx, Certificate) == 2
    assert get_item(ctx, out.item_id)["attempts"] == 2


def test_items_of_a_dead_local_worker_are_recovered_at_start(env):
    ctx, health = env
    rid = person(ctx)
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, new_card(rid), PINS, now=T0)
    health.set_switch(True, reason=None, at=T0)
    w = worker(ctx, health)
    host = w.id.split(":")[0]
    dead = DeferredWorker(ctx, health, clock=lambda: T0, lease=3600,
                          ident=f"{host}:999999999:dead")
    assert dead.claim() == out.item_id
    assert w.claim() is None
    assert w.recover_local() == 1
    assert w.run_once() == "done"


def test_a_card_in_a_reader_makes_the_worker_wait_without_failing(lite):
    """The card is inserted in a reader (held by ``openjpki card insert``) when the worker
    reaches the item: it waits and retries, and the item is never parked as failed."""
    ctx, health = lite
    rid = person(ctx)
    first = submit(ctx, health, new_card(rid), PINS, now=T0)
    assert isinstance(submit(ctx, health, CounterRequest("revocation", rid, kinds=("sign",)),
                             now=T0), Completed)
    health.set_switch(False, reason="down", at=T0)
    out = submit(ctx, health, CounterRequest("new_issuance", rid, kinds=("sign",)),
                 PinEntry(card="1234", sign="NEWSIGN1"), now=T0)
    assert isinstance(out, Deferred), out
    health.set_switch(True, reason=None, at=T0)
    w = worker(ctx, health, retry_after=0.0, max_attempts=1)
    in_reader = ctx.cards.open(first.details["virtual_card_id"])
    try:
        assert w.run_once() == "retry"
        assert w.run_once() == "retry"
        item = get_item(ctx, out.item_id)
        assert item["state"] == "queued" and "in use" in item["last_error"]
    finally:
        in_reader.close()
    assert w.run_once() == "done"


def test_concurrent_workers_complete_each_item_exactly_once(env):
    ctx, health = env
    health.set_switch(False, reason="down", at=T0)
    ids = []
    for i in range(8):
        out = submit(ctx, health, new_card(person(ctx, name=f"並行　{i}")), PINS, now=T0)
        ids.append(out.item_id)
    health.set_switch(True, reason=None, at=T0)
    results: list[dict] = []

    def run(n):
        results.append(DeferredWorker(ctx, health, clock=lambda: T0,
                                      ident=f"w:{n}:x").drain())
    threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.get("done", 0) for r in results) == 8
    assert [i["state"] for i in list_items(ctx)] == ["done"] * 8
    assert count(ctx, Certificate) == 16 and count(ctx, Letter) == 8
    with ctx.store.sessions() as s:
        completed = s.execute(text(
            "SELECT count(*) FROM audit_log WHERE action = 'deferred.completed'")).scalar_one()
    assert completed == 8
    assert verify(ctx.store).ok


def test_orphan_cards_left_by_a_killed_attempt_are_swept(lite):
    ctx, health = lite
    rid = person(ctx)
    assert isinstance(submit(ctx, health, new_card(rid), PINS, now=T0), Completed)
    ctx.cards.create("mnc-000000000001")  # as a killed attempt would leave it
    (ctx.cards.directory / "mnc-000000000002").mkdir()  # killed while being made
    ctx.cards.create("sandbox-card")  # not the counter's: never touched
    w = worker(ctx, health)
    assert w.sweep_orphan_cards(min_age=3600) == []
    gone = w.sweep_orphan_cards(min_age=0)
    assert sorted(gone) == ["mnc-000000000001", "mnc-000000000002"]
    with ctx.store.sessions() as s:
        vids = set(s.execute(select(Card.virtual_card_id)).scalars())
    assert set(ctx.cards.list()) == vids | {"sandbox-card"}


def test_overload_defers_instead_of_waiting(tmp_path, ca_keys):
    with counter("sqlite", tmp_path, ca_keys, max_in_flight=0) as (ctx, health):
        out = submit(ctx, health, new_card(person(ctx)), PINS, now=T0)
        assert isinstance(out, Deferred) and "overloaded" in out.reason


def test_the_circuit_opens_after_failures_and_closes_after_a_good_trial(tmp_path, ca_keys,
                                                                       monkeypatch):
    from openjpki.services.authority_setup import SetupError

    clock = {"t": 0.0}
    with counter("sqlite", tmp_path, ca_keys, failure_threshold=2, cooldown=10,
                 monotonic=lambda: clock["t"]) as (ctx, health):
        service = ctx.authority.service
        real = service.issue
        monkeypatch.setattr(service, "issue", lambda *a, **k: (_ for _ in ()).throw(
            SetupError("key file unreadable")))
        rids = [person(ctx, name=f"回路　{i}") for i in range(4)]
        outs = [submit(ctx, health, new_card(r), PINS, now=T0) for r in rids[:2]]
        assert all(isinstance(o, Deferred) for o in outs)
        assert health.state().circuit == "open"
        assert ctx.cards.list() == []  # cards made by the failed attempts are gone
        monkeypatch.setattr(service, "issue", real)
        assert isinstance(submit(ctx, health, new_card(rids[2]), PINS, now=T0), Deferred)
        clock["t"] = 11.0
        assert health.state().circuit == "half-open"
        assert isinstance(submit(ctx, health, new_card(rids[3]), PINS, now=T0), Completed)
        assert health.state().circuit == "closed"
        assert worker(ctx, health).drain() == {"done": 3}
