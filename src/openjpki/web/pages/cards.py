"""The card "on the reader" of a kiosk or of the holder's computer, for the pages.

**Decision** (sandbox): the server talks to the holder's card itself, through the card's
APDU interface — the same holder client (``JpkiClient``) a kiosk or the holder's software
uses. The card is named by its card number (what a kiosk learns by reading it); the server
opens that virtual card from the home's card store, in process. When the card is in the
vpcd reader (``openjpki card insert``, which holds it), the server uses the PC/SC reader
instead, and checks it is the same card by the AUTH certificate it holds. Either way the
private keys stay on the card and the PIN goes to the card only.

This is a sandbox convenience: in production mode (``services.sandbox_mode``) the server
does not open cards for whoever types a number — a kiosk reads the card on its own reader,
the holder uses the holder client — and these pages answer :func:`production_refusal`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

from openjpki.card import CardInUse, JpkiClient
from openjpki.card.client import Transport
from openjpki.services.counter.residents import NotFound


def server_reader_allowed(app_state, settings) -> bool:
    """Sandbox mode only (the mode of the running sandbox extension, else the home's)."""
    sb = getattr(app_state, "openjpki_sandbox", None)
    if sb is not None:
        return bool(sb.mode.sandbox)
    from openjpki.services.sandbox_mode import ModeConfigError, resolve_mode

    try:
        return resolve_mode(settings).sandbox
    except ModeConfigError:
        return False


PRODUCTION_REFUSAL = (
    "この画面のカード読み取り（カード番号での指定）はサンドボックスモードでのみ使えます。本番では"
    "キオスク端末のリーダー、または利用者クライアントソフト（openjpki client）をお使いください。",
    "Reading a card named by its number works in sandbox mode only. In production a kiosk "
    "reads the card on its own reader, and the holder uses the holder client "
    "(openjpki client).")


def card_record(ctx, card_number: str) -> dict:
    """The counter's record of a card (NotFound for an unknown number)."""
    from openjpki.services.counter.queries import card_by_number, card_dict

    with ctx.store.sessions() as s:
        card = card_by_number(s, card_number.strip())
        if card is None:
            raise NotFound(f"no card numbered {card_number}")
        return card_dict(s, card)


@contextmanager
def card_in_reader(ctx, card: dict) -> Iterator[Transport]:
    """The card of ``card`` (a :func:`card_record`) answering APDUs."""
    try:
        vc = ctx.cards.open(card["virtual_card_id"])
    except CardInUse:
        with _pcsc_card(card) as transport:
            yield transport
        return
    try:
        vc.power_on()
        yield vc
    finally:
        vc.close()


@contextmanager
def _pcsc_card(card: dict) -> Iterator[Transport]:
    """The card in a PC/SC reader, if it is this card; CardInUse otherwise."""
    from cryptography import x509

    from openjpki.card import PcscError, PcscTransport
    from openjpki.store import serial_hex

    serials = {c["serial"] for c in card["certificates"]}
    try:
        transport = PcscTransport()
    except PcscError:
        raise CardInUse(f"card {card['card_number']} is in use elsewhere") from None
    try:
        client = JpkiClient(transport)
        client.select_jpki()
        der = client.read_certificate("auth")
        if der is None or serial_hex(x509.load_der_x509_certificate(der).serial_number) \
                not in serials:
            raise CardInUse(f"card {card['card_number']} is in use, and the card in the "
                            "reader is another")
        yield transport
    finally:
        transport.close()


def pin_status(ctx, card: dict) -> dict:
    """Tries left of each PIN, read from the card without holding it (sandbox: the virtual
    card's state; nothing secret)."""
    status = ctx.cards.status(card["virtual_card_id"])
    return {k: v for k, v in status.get("pins", {}).items()}
