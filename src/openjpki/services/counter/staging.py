"""The card and the store in one outcome: a card made for an issuance becomes permanent only
when the store has committed the records that name it.

    with card_outcome(ctx) as ctx:
        with ctx.store.transaction() as s:
            ...  # execute_in(...) makes the new card, staged
    # committed: the cards the store names are promoted, any other is removed

A card is made staged (:meth:`openjpki.card.CardStore.create` with ``staged=True``); when the
block raises — a failure, a rollback, the commit itself failing — the staged cards are removed
at once; after the commit each is promoted when a card record names it and removed
otherwise (a refusal that made none). A crash between the commit and the promotion is
repaired at the next start by :func:`repair_staged_cards` (``serve``, ``openjpki worker``):
the staged cards of stopped processes are promoted when the store names them, else removed.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import replace
from typing import Any, Iterator

from sqlalchemy import select

from openjpki.card import CardStore
from openjpki.services.counter.context import CounterContext
from openjpki.store import Store
from openjpki.store.counter_models import Card


class StagedCards:
    """The card store, making every new card staged and noting it (see the module text)."""

    def __init__(self, cards: Any) -> None:
        self._cards = cards
        self.created: list[str] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cards, name)

    def create(self, card_id: str, *args: Any, **kwargs: Any) -> bytes:
        kwargs["staged"] = True
        secret = self._cards.create(card_id, *args, **kwargs)
        self.created.append(card_id)
        return secret

    def discard_created(self) -> list[str]:
        """Remove the staged cards at once (the issuance failed or did not commit)."""
        gone = [vid for vid in self.created if self._cards.drop_staged(vid)]
        self.created.clear()
        return gone

    def settle(self, store: Store) -> None:
        """After the commit: promote the cards the store names, remove the others."""
        if not self.created:
            return
        named = _named(store, self.created)
        for vid in self.created:
            if vid in named:
                self._cards.promote(vid)
            else:
                self._cards.drop_staged(vid)
        self.created.clear()


def _named(store: Store, vids: list[str]) -> set[str]:
    with store.sessions() as s:
        return set(s.execute(select(Card.virtual_card_id)
                             .where(Card.virtual_card_id.in_(vids))).scalars())


@contextmanager
def card_outcome(ctx: CounterContext) -> Iterator[CounterContext]:
    """``ctx`` whose new cards are staged until the block's transaction has committed."""
    cards = StagedCards(ctx.cards)
    staged = replace(ctx, cards=cards)  # type: ignore[arg-type]
    try:
        yield staged
    except BaseException:
        cards.discard_created()
        raise
    cards.settle(ctx.store)


def repair_staged_cards(store: Store, cards: CardStore) -> dict[str, list[str]]:
    """At start: the staged cards of stopped processes — promoted when the store names
    them (the crash came after the commit), removed otherwise."""
    found = cards.staged_of_stopped()
    named = _named(store, [vid for vid, _ in found]) if found else set()
    out: dict[str, list[str]] = {"promoted": [], "removed": []}
    for vid, folder in found:
        if vid in named and not (cards.directory / vid).exists():
            cards.promote(vid, folder)
            out["promoted"].append(vid)
        else:
            cards.drop_staged(vid, folder)
            out["removed"].append(vid)
        cards.forget_staging_folder(folder.parent)
    return out


__all__ = ["StagedCards", "card_outcome", "repair_staged_cards"]
