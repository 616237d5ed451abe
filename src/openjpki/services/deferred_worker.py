"""The worker that finishes deferred counter work (R5.9), exactly once per item.

**Claim** (a short transaction): one item that is ``queued`` and due, or ``running`` with an
expired lease, becomes ``running`` with this worker's id and a lease —
``UPDATE deferred_items SET state='running', lease_owner=…, lease_until=…, attempts=attempts+1
WHERE id = (SELECT id … ORDER BY id LIMIT 1 [FOR UPDATE SKIP LOCKED]) RETURNING id``. On
PostgreSQL ``SKIP LOCKED`` lets many workers claim different items without waiting; on SQLite
the database's single writer serialises claims.

**Completion** (ONE transaction): its first statement is a conditional update of the item
(``WHERE state='running' AND lease_owner=me``) — a row lock on PostgreSQL, the write lock on
SQLite — so no other worker can take the item while it runs; then the application is carried
out (:func:`~openjpki.services.counter.execute.execute_in`: certificates issued and recorded,
written to the card), the card's return by 本人限定郵便 is recorded as a letter, and the item
is marked ``done`` (or ``refused``) with its sealed PINs wiped — and all of it commits
together. A crash anywhere before the commit leaves no certificate, letter or mark behind,
so the retry cannot issue twice.

**Card side effects** are outside the database. They are safe to repeat: the card stays with
the counter until the letter is recorded, and a retry makes new keys on it and writes new
certificates over whatever a failed attempt left. A new card made by an attempt that did not
commit is removed again (at once when the attempt fails in process; by
:meth:`DeferredWorker.sweep_orphan_cards` after a crash).

**Errors**: while the authorities are unavailable the item goes back to the queue with a short
back-off (never failing, nothing lost); other errors back off exponentially and, after
``max_attempts``, park the item as ``failed`` with its PINs still sealed, for the operator
(``requeue``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Callable, Optional

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from openjpki.card import CardInUse
from openjpki.rules import Refused
from openjpki.services.audit import record
from openjpki.services.counter import CounterContext
from openjpki.services.counter.execute import execute_in
from openjpki.services.counter.staging import StagedCards, repair_staged_cards
from openjpki.services.deferred import discard_card, open_pins
from openjpki.services.deferred_result import (
    CARD_RETURN, RESULT_NOTICE, intake_of as _intake_of, mail_result as _mail_result,
)
from openjpki.services.deferred_health import AuthorityHealth, AuthorityUnavailable
from openjpki.processes import pid_alive
from openjpki.store.counter_models import Application, Card
from openjpki.store.deferred import DeferredItem

log = logging.getLogger("openjpki.deferred")


Clock = Callable[[], datetime]


def worker_id() -> str:
    """``host:pid:random``: unique, and tells :meth:`recover_local` whose process it was."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DeferredWorker:
    """Claims and completes queued items. ``clock`` gives the moment of the work (the
    certificates' issue time, the sandbox clock in a sandbox); ``lease_clock`` the queue's
    clock — when an item may run, back-off and leases — which must be the clock that
    stamped the items (default the context's ``queue_clock``, else ``clock``)."""

    def __init__(self, ctx: CounterContext, health: Optional[AuthorityHealth], *, clock: Clock,
                 lease_clock: Optional[Clock] = None, lease: float = 60.0,
                 retry_after: float = 2.0, max_backoff: float = 300.0, max_attempts: int = 5,
                 ident: Optional[str] = None) -> None:
        self.ctx = replace(ctx, calendar=None, actor="deferred-worker")
        self.health = health
        self.clock = clock
        self.lease_clock = lease_clock or ctx.queue_clock or clock
        self.lease = timedelta(seconds=lease)
        self.retry_after = retry_after
        self.max_backoff = max_backoff
        self.max_attempts = max_attempts
        self.id = ident or worker_id()
        self._postgres = ctx.store.dialect == "postgresql"

    # --- claiming ------------------------------------------------------------------------
    def claim(self) -> Optional[int]:
        """Take the oldest due item (or one whose lease ran out); None when there is none."""
        now = self.lease_clock()
        due = or_(and_(DeferredItem.state == "queued", DeferredItem.available_at <= now),
                  and_(DeferredItem.state == "running", DeferredItem.lease_until < now))
        pick = select(DeferredItem.id).where(due).order_by(DeferredItem.id).limit(1)
        if self._postgres:
            pick = pick.with_for_update(skip_locked=True)
        stmt = (update(DeferredItem).where(DeferredItem.id == pick.scalar_subquery())
                .values(state="running", lease_owner=self.id, lease_until=now + self.lease,
                        attempts=DeferredItem.attempts + 1, updated_at=now)
                .returning(DeferredItem.id)
                .execution_options(synchronize_session=False))
        with self.ctx.store.transaction() as s:
            return s.execute(stmt).scalar_one_or_none()

    def recover_local(self) -> int:
        """Return to the queue the items held by workers of this host whose process is gone
        (a killed server), without waiting for their leases to run out. Safe against a live
        worker: its completion needs its own lease, so it would simply lose the item."""
        host = self.id.split(":", 1)[0]
        with self.ctx.store.sessions() as s:
            held = s.execute(select(DeferredItem.id, DeferredItem.lease_owner).where(
                DeferredItem.state == "running")).all()
        dead = []
        for item_id, owner in held:
            parts = (owner or "").split(":")
            if len(parts) == 3 and parts[0] == host and parts[1].isdigit() \
                    and int(parts[1]) != os.getpid() and not pid_alive(int(parts[1])):
                dead.append((item_id, owner))
        now = self.lease_clock()
        n = 0
        for item_id, owner in dead:
            with self.ctx.store.transaction() as s:
                n += s.execute(
                    update(DeferredItem).where(DeferredItem.id == item_id,
                                               DeferredItem.state == "running",
                                               DeferredItem.lease_owner == owner)
                    .values(state="queued", lease_owner=None, lease_until=None,
                            available_at=now, updated_at=now,
                            last_error="the worker holding it stopped")
                    .execution_options(synchronize_session=False)).rowcount
        return n

    # --- completing ------------------------------------------------------------------------
    def process(self, item_id: int) -> str:
        """Complete a claimed item: ``done``, ``refused``, ``lost`` (another worker has it
        now), ``retry`` or ``failed``."""
        now = self.clock()
        cards = StagedCards(self.ctx.cards)  # a new card is staged until the commit
        ctx = replace(self.ctx, cards=cards)  # type: ignore[arg-type]
        ended = False
        try:
            with ctx.store.transaction() as s:
                mine = s.execute(
                    update(DeferredItem).where(DeferredItem.id == item_id,
                                               DeferredItem.state == "running",
                                               DeferredItem.lease_owner == self.id)
                    .values(updated_at=now).execution_options(synchronize_session=False)
                ).rowcount
                if mine != 1:
                    return "lost"
                item = s.get(DeferredItem, item_id, populate_existing=True)
                assert item is not None
                state, ended = self._complete(s, ctx, item, now)
        except AuthorityUnavailable as e:
            cards.discard_created()
            self._release(item_id, e.reason, outage=True)
            return "retry"
        except CardInUse as e:  # the card is in a reader for now: wait, it is no failure
            cards.discard_created()
            self._release(item_id, str(e), outage=True)
            return "retry"
        except Exception as e:  # noqa: BLE001 — recorded on the item, retried, then parked
            cards.discard_created()
            log.warning("deferred item %s: %s: %s", item_id, type(e).__name__, e)
            return self._release(item_id, f"{type(e).__name__}: {e}", outage=False)
        except BaseException:
            cards.discard_created()
            raise
        cards.settle(self.ctx.store)
        if ended:
            self.ctx.notify_status_change()
        return state

    def _complete(self, s: Session, ctx: CounterContext, item: DeferredItem,
                  now: datetime) -> tuple[str, bool]:
        app = s.get(Application, item.application_id, populate_existing=True,
                    with_for_update=True)
        assert app is not None
        if app.state != "accepted":
            # Finished by other means (e.g. the clerk cancelled it): close the item as it is.
            item.state = "done" if app.state == "completed" else "refused"
            item.result = {"outcome": app.state, "note": "the application was no longer "
                           "waiting when the worker reached it"}
            outcome = None
        else:
            pins = open_pins(ctx.box, item.pins_sealed, app.id)
            intake, req = _intake_of(s, app)
            outcome = execute_in(s, ctx, intake, req, pins, now)
            item.state = "refused" if isinstance(outcome, Refused) else "done"
            item.result = outcome.to_dict()
            letter = _mail_result(s, app, intake, outcome, now)
            item.letter_id = letter.id
        item.pins_sealed = None
        item.lease_owner = item.lease_until = None
        item.completed_at = item.updated_at = now
        s.flush()
        record(s, "deferred.completed", now, actor=ctx.actor,
               subject=f"resident:{item.resident_id}", item_id=item.id,
               application_id=app.id, outcome=item.state, attempts=item.attempts,
               letter_id=item.letter_id, worker=self.id)
        ended = bool(outcome is not None and not isinstance(outcome, Refused)
                     and getattr(outcome, "ended", ()))
        return item.state, ended

    def _release(self, item_id: int, error: str, *, outage: bool) -> str:
        """Give a claimed item back after a failed attempt (a fresh transaction; only while
        the item is still this worker's)."""
        now = self.lease_clock()
        with self.ctx.store.transaction() as s:
            item = s.get(DeferredItem, item_id, populate_existing=True)
            if item is None:
                return "lost"
            failed = not outage and item.attempts >= self.max_attempts
            delay = self.retry_after if outage else min(
                self.max_backoff, self.retry_after * 2 ** max(0, item.attempts - 1))
            mine = s.execute(
                update(DeferredItem).where(DeferredItem.id == item_id,
                                           DeferredItem.state == "running",
                                           DeferredItem.lease_owner == self.id)
                .values(state="failed" if failed else "queued", lease_owner=None,
                        lease_until=None, last_error=error[:300],
                        available_at=now + timedelta(seconds=delay), updated_at=now)
                .execution_options(synchronize_session=False)).rowcount
            if mine != 1:
                return "lost"
            if failed:
                record(s, "deferred.failed", now, actor=self.ctx.actor,
                       subject=f"resident:{item.resident_id}", item_id=item.id,
                       application_id=item.application_id, error=error[:300])
            return "failed" if failed else "retry"

    # --- loops -----------------------------------------------------------------------------
    def run_once(self) -> Optional[str]:
        """Claim and complete one item; None when the authorities are unavailable or the
        queue has nothing due."""
        if self.health is not None and self.health.unavailable_reason() is not None:
            return None
        item_id = self.claim()
        if item_id is None:
            return None
        return self.process(item_id)

    def run(self, stop: threading.Event, *, idle: float = 0.5) -> None:
        """Work until ``stop`` is set (the ``serve`` thread and ``openjpki worker``)."""
        try:
            self.recover_local()
            self.recover_clock()
        except Exception:  # noqa: BLE001
            log.exception("deferred worker: recovering items of stopped workers failed")
        while not stop.is_set():
            try:
                outcome = self.run_once()
            except Exception:  # noqa: BLE001 — the store hiccupped: wait and try again
                log.exception("deferred worker: claim failed")
                outcome = None
            if outcome is None:
                stop.wait(idle)

    def drain(self, *, stop: Optional[threading.Event] = None, idle: float = 0.2,
              max_idle_rounds: Optional[int] = None) -> dict[str, int]:
        """Work until nothing is runnable (or ``stop``); counts of outcomes. Nothing is
        runnable when the authorities are unavailable, or when no item is queued to run
        within the longest back-off and none is held by a live lease."""
        counts: dict[str, int] = {}
        self.recover_local()
        self.recover_clock()
        idle_rounds = 0
        while stop is None or not stop.is_set():
            outcome = self.run_once()
            if outcome is not None:
                counts[outcome] = counts.get(outcome, 0) + 1
                idle_rounds = 0
                continue
            if not self._runnable():
                break
            idle_rounds += 1
            if max_idle_rounds is not None and idle_rounds > max_idle_rounds:
                break
            (stop.wait(idle) if stop is not None else threading.Event().wait(idle))
        return counts

    def _runnable(self) -> bool:
        if self.health is not None and self.health.unavailable_reason() is not None:
            return False
        soon = self.lease_clock() + timedelta(seconds=self.max_backoff)
        with self.ctx.store.sessions() as s:
            return s.execute(select(DeferredItem.id).where(or_(
                and_(DeferredItem.state == "queued", DeferredItem.available_at <= soon),
                DeferredItem.state == "running")).limit(1)).first() is not None

    def recover_clock(self) -> int:
        """Bring back to now the items stamped further ahead than any back-off can put them
        (queued under another clock, e.g. a moved sandbox clock, by an older version): on
        one clock they would otherwise never be due."""
        now = self.lease_clock()
        ahead = now + timedelta(seconds=self.max_backoff + 1)
        with self.ctx.store.transaction() as s:
            return s.execute(
                update(DeferredItem).where(DeferredItem.state == "queued",
                                           DeferredItem.available_at > ahead)
                .values(available_at=now, updated_at=now)
                .execution_options(synchronize_session=False)).rowcount

    # --- cleaning up after crashes -----------------------------------------------------------
    def sweep_orphan_cards(self, *, min_age: float = 900.0) -> list[str]:
        """Remove counter-made cards (``mnc-…``) that no card record names and that nobody
        holds, older than ``min_age`` seconds: what an attempt killed before its commit left
        behind. The age keeps cards of attempts still running elsewhere out of reach."""
        import time

        cards = self.ctx.cards
        repaired = repair_staged_cards(self.ctx.store, cards)
        if any(repaired.values()):
            with self.ctx.store.transaction() as s:
                record(s, "deferred.staged_cards_repaired", self.lease_clock(),
                       actor=self.ctx.actor, subject="cards", **repaired)
        directory = cards.directory
        if not directory.is_dir():
            return []
        with self.ctx.store.sessions() as s:
            known = set(s.execute(select(Card.virtual_card_id)).scalars())
        gone = []
        for path in directory.iterdir():
            vid = path.name
            if not path.is_dir() or not vid.startswith("mnc-") or vid in known:
                continue
            try:
                age = time.time() - path.stat().st_mtime
            except OSError:
                continue
            if age >= min_age and discard_card(cards, vid):
                gone.append(vid)
        if gone:
            now = self.lease_clock()
            with self.ctx.store.transaction() as s:
                record(s, "deferred.orphan_cards_removed", now, actor=self.ctx.actor,
                       subject="cards", cards=gone)
        return gone


__all__ = ["CARD_RETURN", "DeferredWorker", "RESULT_NOTICE", "worker_id"]
