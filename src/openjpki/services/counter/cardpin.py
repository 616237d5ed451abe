"""The resident-registry PIN (住民基本台帳用暗証番号, R1.6), asked of the card as a counter
terminal does: VERIFY in the card's 住基AP. The card counts the tries (3, R1.4) and blocks
the PIN itself (R1.7); the database keeps no hash of the PIN, nothing from which it could
be found, only the last answer of the card (``card_pin_failures`` / ``card_pin_locked``)
for the clerk's screens — the card's count is the one that decides.

Parallel requests: each check opens the card with the card store's exclusive lock, waiting
its turn (``CARD_WAIT`` seconds at most), and the card reads its state only under that
lock and writes the used try durably before it compares the PIN. However many threads or
processes ask at once, every wrong PIN uses one try and no answer is decided on a stale
count.
"""

from __future__ import annotations

from openjpki.card.holder import HolderClient, PinLocked, WrongCardPin
from openjpki.card.pins import PIN_TRIES, PinId
from openjpki.rules import PinCounter, after_pin_try, pin_refused_by_card, validate_card_pin
from openjpki.rules.decision import Allowed, Refused
from openjpki.rules.kinds import PinKind
from openjpki.services.counter.context import CounterContext
from openjpki.store.counter_models import Card

CARD_WAIT = 10.0  # then CardInUse, as for every card operation of the counter


def check_card_pin(ctx: CounterContext, card: Card, pin: str | None) -> Allowed | Refused:
    """R1.6: VERIFY the resident-registry PIN on the card. A PIN of the wrong form is
    refused before the card is asked (no try used, R1.6); every other wrong PIN uses one
    of the card's tries, whatever the database says."""
    form = validate_card_pin(pin if isinstance(pin, str) else "")
    if isinstance(form, Refused):
        return form
    assert isinstance(pin, str)
    vc = ctx.cards.open(card.virtual_card_id, wait=CARD_WAIT)
    try:
        vc.power_on()
        HolderClient(vc).verify(PinId.CARD, pin)
    except WrongCardPin as e:
        _mirror(card, e.tries_left)
        return pin_refused_by_card(PinKind.CARD, e.tries_left)
    except PinLocked:
        _mirror(card, 0)
        return pin_refused_by_card(PinKind.CARD, locked=True)
    finally:
        vc.close()
    _mirror(card, PIN_TRIES[PinId.CARD])
    decision = after_pin_try(PinCounter(PinKind.CARD, 0), correct=True).decision
    assert isinstance(decision, Allowed)
    return decision


def _mirror(card: Card, tries_left: int) -> None:
    """What the card said, for display only."""
    limit = PIN_TRIES[PinId.CARD]
    card.card_pin_failures = limit - tries_left
    card.card_pin_locked = tries_left == 0


