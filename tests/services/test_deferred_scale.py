"""R5.9 at scale on PostgreSQL: 1,000 new-card applications are queued while the
authorities are off; then 8 worker processes complete them concurrently (claims with
``FOR UPDATE SKIP LOCKED``). Every card is issued exactly once: no duplicate serial, no lost
or doubled row, every item done by exactly one worker.

The point is the database under concurrency, so the rest is made cheap (speed only,
documented): the cards draw their "new" RSA keys from a pool of 16 pre-generated keys, the
card store lives on tmpfs (it fsyncs every command), the resident-registry PIN is hashed
with a cheap scrypt cost, and the cards carry AUTH only (SIGN declined on the application,
R5.10) so each card costs one key and one signature. One application is accepted through
the real ``defer`` use case; the other 999 residents, applications and queue items are
copies of it written in bulk (acceptance has its own tests; here it would only serialise
2,000 transactions on the audit log's head before the part under test starts).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import resource
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from openjpki.services.counter import CounterRequest, PinEntry
from openjpki.services.deferred import Deferred, defer
from openjpki.services.deferred_worker import DeferredWorker
from openjpki.store import Certificate
from openjpki.store.counter_models import Application, Card, CardCertificate, Letter
from openjpki.store.deferred import DeferredItem
from openjpki.store.testing import POSTGRES_SKIP_REASON, postgres_url
from test_deferred_kit import (  # noqa: F401 — fixtures
    T0, ca_keys, counter, fast_dir, key_pool, person,
)

CARDS = int(os.environ.get("OPENJPKI_SCALE_CARDS", "1000"))
WORKERS = 8
PINS = PinEntry(card="1234", auth="5678")

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


def _child(role: str, ctx_args: tuple, out: "mp.Queue") -> None:
    """One worker process: work the queue until it is empty."""
    ctx = None
    try:
        ctx, health = _open(*ctx_args)
        moment = T0 + timedelta(minutes=1)
        worker = DeferredWorker(ctx, health, clock=lambda: moment, lease=300,
                                ident=f"scale:{os.getpid()}:{role}")
        out.put((role, worker.drain(idle=0.05)))
    except BaseException as e:  # noqa: BLE001 — reported to the parent
        out.put(("error", f"{type(e).__name__}: {e}"))
    finally:
        if ctx is not None:
            ctx.store.dispose()


def _queue_copies(ctx, template_item_id: int, n: int) -> None:
    """n more residents, applications and queue items, copies of the template's."""
    from sqlalchemy import insert

    from openjpki.rules.individual_number import SYNTHETIC_PREFIX, check_digit
    from openjpki.services.deferred import seal_pins
    from openjpki.store.residents import Resident

    def number(i: int) -> str:  # distinct from the template's (a random draw)
        body = f"{SYNTHETIC_PREFIX}{5_000_000 + i:07d}"
        return body + str(check_digit(body))

    def plain(row) -> dict:
        return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key != "id"}

    with ctx.store.transaction() as s:
        item = s.get(DeferredItem, template_item_id)
        app = s.get(Application, item.application_id)
        r = s.get(Resident, app.resident_id)
        base_r, base_a, base_i = plain(r), plain(app), plain(item)
        rids = s.execute(insert(Resident).returning(Resident.id), [
            {**base_r, "name": f"規模　{i:04d}", "household_id": f"HS{i:06d}",
             "individual_number": number(i)} for i in range(n)]).scalars().all()
        aids = s.execute(insert(Application).returning(Application.id), [
            {**base_a, "resident_id": rid} for rid in rids]).scalars().all()
        s.execute(insert(DeferredItem), [
            {**base_i, "application_id": aid, "resident_id": rid,
             "pins_sealed": seal_pins(ctx.box, PINS, aid)} for rid, aid in zip(rids, aids)])


def _open(url: str, keys_dir, cards_dir, store_key: bytes, box_key: bytes):
    from openjpki.card import CardStore
    from openjpki.rules.calendars import default_calendar
    from openjpki.services.authority import AuthorityService
    from openjpki.services.counter import CounterContext, SecretBox
    from openjpki.services.deferred_health import AuthorityHealth, GuardedAuthority
    from openjpki.store import Store
    from test_deferred_kit import PASSPHRASE

    store = Store.open(url, pool_size=2)
    service = AuthorityService(store, keys_dir=keys_dir, passphrase=PASSPHRASE)
    health = AuthorityHealth(store, switch_ttl=0.2, max_in_flight=4)
    ctx = CounterContext(store=store, authority=GuardedAuthority(service, health),
                         cards=CardStore(cards_dir, store_key=store_key),
                         box=SecretBox(box_key), calendar=default_calendar())
    return ctx, health


def _run(processes: list[mp.Process], out: "mp.Queue", timeout: float) -> list:
    for p in processes:
        p.start()
    results = []
    deadline = time.monotonic() + timeout
    while len(results) < len(processes):
        results.append(out.get(timeout=max(1.0, deadline - time.monotonic())))
    for p in processes:
        p.join(30)
    errors = [r for r in results if r[0] == "error"]
    assert not errors, errors
    return results


@pytest.fixture
def cheap(monkeypatch, key_pool):
    import itertools

    from openjpki.card import rsaops

    pool = itertools.cycle(key_pool)
    monkeypatch.setattr(rsaops, "generate_key", lambda: next(pool))


@pytest.mark.timeout(600)
def test_R5_9_eight_workers_issue_1000_cards_on_postgresql(tmp_path, ca_keys, cheap):
    if postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    store_key, box_key = os.urandom(32), os.urandom(32)
    with fast_dir(tmp_path, "cards") as cards_dir, \
            counter("postgres", tmp_path, ca_keys, cards_dir=cards_dir, store_key=store_key,
                    box_key=box_key) as (ctx, health):
        health.set_switch(False, reason="central system down", at=T0)
        started = time.monotonic()
        req = CounterRequest("new_issuance", person(ctx, name="規模　見本"), new_card=True,
                             declined=("sign",))
        template = defer(ctx, req, PINS, now=T0, reason="central system down")
        assert isinstance(template, Deferred), template
        _queue_copies(ctx, template.item_id, CARDS - 1)
        accepted = time.monotonic() - started
        assert _count(ctx, DeferredItem) == CARDS
        url = ctx.store.engine.url.render_as_string(hide_password=False)
        args = (url, ca_keys, cards_dir, store_key, box_key)
        health.set_switch(True, reason=None, at=T0)
        ctx.store.dispose()  # no connection crosses the fork
        fork = mp.get_context("fork")
        out = fork.Queue()
        started = time.monotonic()
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        results = _run([fork.Process(target=_child, args=(f"w{n}", args, out))
                        for n in range(WORKERS)], out, timeout=600)
        worked = time.monotonic() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime
                                                            - cpu_before.ru_stime)
        per_worker = [r[1].get("done", 0) for r in results]
        assert sum(per_worker) == CARDS
        assert sum(1 for n in per_worker if n > 0) >= 2  # the work was shared

        with ctx.store.sessions() as s:
            states = dict(s.execute(select(DeferredItem.state, func.count())
                                    .group_by(DeferredItem.state)).all())
            assert states == {"done": CARDS}
            serials = s.execute(select(Certificate.serial)).scalars().all()
            assert len(serials) == CARDS and len(set(serials)) == CARDS
            assert s.execute(select(func.count(func.distinct(Certificate.resident_id))
                                    )).scalar_one() == CARDS
            assert _count(ctx, Card) == CARDS and _count(ctx, CardCertificate) == CARDS
            assert _count(ctx, Letter) == CARDS
            assert {a for a in s.execute(select(Application.state)).scalars()} == {
                "completed"}
            completions = s.execute(text(
                "SELECT count(*), count(DISTINCT payload::jsonb ->> 'item_id') FROM audit_log "
                "WHERE action = 'deferred.completed'")).one()
            assert tuple(completions) == (CARDS, CARDS)
            workers_used = s.execute(text(
                "SELECT count(DISTINCT payload::jsonb ->> 'worker') FROM audit_log "
                "WHERE action = 'deferred.completed'")).scalar_one()
        assert workers_used >= 2
        with ctx.store.sessions() as s:
            vids = s.execute(select(Card.virtual_card_id)).scalars().all()
        assert sorted(ctx.cards.list()) == sorted(vids)
        print(f"\n{CARDS} cards: queued in {accepted:.1f} s, issued by {WORKERS} workers in "
              f"{worked:.1f} s ({CARDS / worked:.0f} cards/s, {cpu / CARDS * 1000:.0f} ms of worker "
              f"CPU a card); per worker {per_worker}")


def _count(ctx, model) -> int:
    with ctx.store.sessions() as s:
        return s.execute(select(func.count()).select_from(model)).scalar_one()
