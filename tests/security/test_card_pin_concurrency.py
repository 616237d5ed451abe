"""R1.6 / R1.4 under parallel requests: the resident-registry PIN is counted by the card (its
住基AP), and every counter procedure that asks for it asks the card. Fifty concurrent PIN
resets with a wrong card PIN use exactly the card's three tries — three "wrong PIN" answers
with 2, 1 and 0 tries left, every other answer "locked" — and the right PIN afterwards is
refused, on SQLite and on PostgreSQL. Several processes opening the same card store hold the
count too. The control shows the same crowd against a card store without its lock losing
tries: the failure the lock prevents."""

from __future__ import annotations

import multiprocessing
import os
import threading
from datetime import date, datetime
from functools import lru_cache

import pytest
from sqlalchemy import update

from openjpki.card import CardError, CardStore, rsaops
from openjpki.card import store as card_store
from openjpki.card.holder import HolderClient, PinLocked, WrongCardPin
from openjpki.card.pins import PinId
from openjpki.rules import JST, Refused
from openjpki.rules.calendars import default_calendar
from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.counter import (
    Completed, CounterContext, PinEntry, ResidentInput, SecretBox, add_resident, issue_new_card,
    reset_pin,
)
from openjpki.store.counter_models import Card
from openjpki.store.testing import open_test_store

PASSPHRASE = b"card-pin-concurrency"
T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)
WHEN = datetime(2025, 6, 2, 10, 0, tzinfo=JST)
PINS = PinEntry(card="1234", sign="ABC123", auth="5678")
CLIENTS = 50


@lru_cache(maxsize=1)
def _keys():
    return [rsaops.generate_key() for _ in range(2)]


@pytest.fixture
def ctx(backend, tmp_path, monkeypatch):
    from openjpki.services.authority_setup import create_or_load_key, key_file_name

    keys = iter(_keys() * 4)
    monkeypatch.setattr(rsaops, "generate_key", lambda: next(keys))
    ca_keys = tmp_path / "ca-keys"
    for kind in ("sign", "auth"):
        create_or_load_key(ca_keys / key_file_name(kind, 1), PASSPHRASE)
    with open_test_store(backend, tmp_path) as store:
        initialise(store, ca_keys, PASSPHRASE, now=T0)
        authority = AuthorityService(store, keys_dir=ca_keys, passphrase=PASSPHRASE)
        yield CounterContext(store=store, authority=authority,
                             cards=CardStore(tmp_path / "cards", store_key=os.urandom(32)),
                             box=SecretBox(os.urandom(32)), calendar=default_calendar())


def _holder(ctx) -> tuple[int, str]:
    rid = add_resident(ctx, ResidentInput(name="山田　太郎", address="埼玉県川口市青木二丁目1番1号",
                                          birth_date=date(1980, 5, 15), sex="male"), T0)["id"]
    out = issue_new_card(ctx, rid, PINS, now=T0)
    assert isinstance(out, Completed), out
    return rid, out.details["virtual_card_id"]


def _crowd(ctx, rid: int, n: int = CLIENTS) -> list:
    barrier = threading.Barrier(n)
    answers: list = [None] * n

    def one(i: int) -> None:
        barrier.wait()
        try:
            answers[i] = reset_pin(ctx, rid, "auth", "0000", "2468", now=WHEN)
        except Exception as e:  # noqa: BLE001 — recorded, asserted below
            answers[i] = e
    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def _tries_said(answers) -> list[str]:
    """The 'wrong PIN' answers (R1.4), by their message."""
    return sorted(a.message_en for a in answers if isinstance(a, Refused) and a.rule == "R1.4")


def test_R1_6_fifty_wrong_card_pins_at_once_use_exactly_three_tries(ctx):
    rid, vid = _holder(ctx)
    answers = _crowd(ctx, rid)
    assert not [a for a in answers if isinstance(a, Exception)], answers
    assert all(isinstance(a, Refused) for a in answers)
    wrong = _tries_said(answers)
    assert len(wrong) == 3, wrong  # 2, 1 and 0 tries left, one each
    assert len({*wrong}) == 3
    assert sum(a.rule == "R1.7" for a in answers) == CLIENTS - 3  # locked
    assert ctx.cards.status(vid)["pins"]["card"] == {
        "set": True, "tries_left": 0, "max_tries": 3, "blocked": True}
    right = reset_pin(ctx, rid, "auth", "1234", "2468", now=WHEN)
    assert isinstance(right, Refused) and right.rule == "R1.7"


def test_R1_6_the_card_decides_whatever_the_database_says(ctx):
    rid, vid = _holder(ctx)
    with ctx.store.transaction() as s:  # the database claims a locked PIN
        s.execute(update(Card).values(card_pin_failures=3, card_pin_locked=True))
    out = reset_pin(ctx, rid, "auth", "1234", "2468", now=WHEN)
    assert isinstance(out, Completed), out
    with ctx.store.transaction() as s:  # and now a clean record, after a wrong try
        s.execute(update(Card).values(card_pin_failures=0, card_pin_locked=False))
    out = reset_pin(ctx, rid, "auth", "9999", "2468", now=WHEN)
    assert isinstance(out, Refused) and out.rule == "R1.4"
    assert ctx.cards.status(vid)["pins"]["card"]["tries_left"] == 2
    with ctx.store.transaction() as s:
        s.execute(update(Card).values(card_pin_failures=0, card_pin_locked=False))
    for _ in range(2):
        reset_pin(ctx, rid, "auth", "9999", "2468", now=WHEN)
    with ctx.store.transaction() as s:
        s.execute(update(Card).values(card_pin_failures=0, card_pin_locked=False))
    out = reset_pin(ctx, rid, "auth", "1234", "2468", now=WHEN)
    assert isinstance(out, Refused) and out.rule == "R1.7"  # the card is blocked


def _process_tries(cards_dir: str, store_key: bytes, vid: str, n: int, out) -> None:
    said = []
    for _ in range(n):
        card = CardStore(cards_dir, store_key=store_key).open(vid, wait=30)
        try:
            card.power_on()
            HolderClient(card).verify(PinId.CARD, "0000")
        except WrongCardPin as e:
            said.append(e.tries_left)
        except PinLocked:
            said.append(-1)
        finally:
            card.close()
    out.put(said)


def test_R1_6_processes_sharing_the_card_store_hold_the_count(tmp_path):
    from tests.card.cardkit import make_card

    key = os.urandom(32)
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "store.key").write_bytes(key)
    make_card(cards, "MP1")
    mp = multiprocessing.get_context("fork")
    q = mp.Queue()
    procs = [mp.Process(target=_process_tries, args=(str(cards), key, "MP1", 5, q))
             for _ in range(8)]
    for p in procs:
        p.start()
    said = sorted(x for _ in procs for x in q.get(timeout=60))
    for p in procs:
        p.join(timeout=30)
    assert said == [-1] * 37 + [0, 1, 2]


def _card_crowd(cards, vid: str, n: int) -> list[int]:
    barrier = threading.Barrier(n)
    said: list[int] = []

    def one() -> None:
        barrier.wait()
        card = cards.open(vid, wait=30)
        try:
            card.power_on()
            HolderClient(card).verify(PinId.CARD, "0000")
        except WrongCardPin as e:
            said.append(e.tries_left)
        except PinLocked:
            said.append(-1)
        except CardError:  # only without the lock: writers trampling each other
            said.append(-9)
        finally:
            card.close()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(said)


@pytest.mark.parametrize("locked", [True, False], ids=["with the lock", "control: no lock"])
def test_threads_opening_one_card_store(tmp_path, monkeypatch, locked):
    """With the card store's lock every wrong PIN uses a try; the control, with the lock
    disabled, shows the failure it prevents: threads reading the same count and several
    told '2 tries left' (what 12 parallel POST /api/counter/pin-reset once got)."""
    from tests.card.cardkit import make_card

    if not locked:
        monkeypatch.setattr(card_store, "_lock", lambda fd, wait: True)
    store = CardStore(tmp_path / "cards")
    for round_ in range(3):
        vid = f"T{round_}"
        make_card(store.directory, vid)
        said = _card_crowd(store, vid, CLIENTS if locked else 20)
        if locked:
            assert said == [-1] * (CLIENTS - 3) + [0, 1, 2]
            return
        if said.count(2) > 1 or -9 in said:
            return  # tries lost (or the state torn), as expected without the lock
    pytest.fail(f"the unlocked card store never lost a try: {said}")
