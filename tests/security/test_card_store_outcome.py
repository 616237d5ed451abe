"""The card and the store in one outcome: a card made for an issuance is permanent only once
the store committed the records naming it. A failed issuance leaves no card directory behind
(before, it stayed until a worker swept it); a process killed after the commit but before the
card was put in place is repaired at the next start, and one killed before the commit leaves
nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from openjpki.card import CardStore, IssuingTerminal
from openjpki.services.counter import (
    CounterContext, PinEntry, ResidentInput, add_resident, issue_new_card,
)
from openjpki.store.counter_models import Card

from sandbox.kit import make_home

from .seca_kit import PINS, database

pytestmark = pytest.mark.slow


def _cards(settings) -> list[str]:
    """Every card folder, staged or not."""
    root = settings.cards_dir
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) for p in root.rglob("mnc-*") if p.is_dir())


def _resident(ctx) -> int:
    return add_resident(ctx, ResidentInput(name="失敗　花子", address="埼玉県川口市青木二丁目1番1号",
                                           birth_date=date(1980, 5, 15), sex="female"),
                        datetime.now(timezone.utc))["id"]


class _Broken(IssuingTerminal):
    def write_certificate(self, kind, der):  # noqa: ANN001
        raise OSError("the card writer failed")


def test_a_failed_issuance_leaves_no_card(tmp_path, monkeypatch):
    with database("sqlite", monkeypatch):
        settings = make_home(tmp_path / "home")
        ctx = replace(CounterContext.from_settings(settings), calendar=None,
                      terminal_factory=_Broken)
        try:
            rid = _resident(ctx)
            with pytest.raises(OSError):
                issue_new_card(ctx, rid, PinEntry(**PINS), now=datetime.now(timezone.utc))
            assert _cards(settings) == []
            with ctx.store.sessions() as s:
                assert s.execute(select(Card)).first() is None
        finally:
            ctx.store.dispose()


_CHILD = textwrap.dedent('''
    import os, sys
    from dataclasses import replace
    from datetime import date, datetime, timezone
    from openjpki.card import CardStore
    from openjpki.config import Settings
    from openjpki.services.counter import (CounterContext, PinEntry, ResidentInput,
                                           add_resident, issue_new_card)
    from openjpki.services.counter import staging
    where = sys.argv[1]
    if where == "after-commit":
        CardStore.promote = lambda self, *a, **k: os._exit(0)  # killed before the rename
    else:
        import importlib
        ex = importlib.import_module("openjpki.services.counter.execute")
        real = ex._new_card
        def killed(*a, **k):
            card = real(*a, **k)
            os._exit(0)  # killed inside the transaction, the card staged
        ex._new_card = killed
    ctx = replace(CounterContext.from_settings(Settings.resolve()), calendar=None)
    now = datetime.now(timezone.utc)
    rid = add_resident(ctx, ResidentInput(name="途中　太郎", address="東京都千代田区1番",
                                          birth_date=date(1980, 5, 15), sex="male"), now)["id"]
    issue_new_card(ctx, rid, PinEntry(card="1234", sign="ABC123", auth="5678"), now=now)
    sys.exit(3)
''')


@pytest.mark.parametrize("where", ["after-commit", "before-commit"])
def test_a_crash_between_card_and_store_is_repaired_at_start(tmp_path, monkeypatch, where):
    import os

    from openjpki.services.counter.staging import repair_staged_cards

    with database("sqlite", monkeypatch):
        home = tmp_path / "home"
        settings = make_home(home)
        child = subprocess.run([sys.executable, "-c", _CHILD, where], capture_output=True,
                               text=True, timeout=120,
                               env={**os.environ, "OPENJPKI_HOME": str(home)})
        assert child.returncode == 0, child.stderr
        staged = _cards(settings)
        assert len(staged) == 1 and staged[0].startswith(".staging/"), staged
        ctx = CounterContext.from_settings(settings)
        try:
            with ctx.store.sessions() as s:
                named = list(s.execute(select(Card.virtual_card_id)).scalars())
            cards = CardStore(settings.cards_dir)
            repaired = repair_staged_cards(ctx.store, cards)
            if where == "after-commit":
                assert len(named) == 1 and repaired["promoted"] == named
                assert _cards(settings) == named
                status = cards.status(named[0])  # a whole card, in its place
                assert status is not None
            else:
                assert named == [] and len(repaired["removed"]) == 1
                assert _cards(settings) == []
            assert not any((settings.cards_dir / ".staging").iterdir())
        finally:
            ctx.store.dispose()
