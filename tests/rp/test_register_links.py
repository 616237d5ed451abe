"""The relying party on a municipality's register: a holder with a real (virtual) card
registers with SIGN and logs in with AUTH signed on the card; a move revokes SIGN (R4.1),
the counter re-issues it (R4.5) and the relying party links the new SIGN to the old one
through the register (the card and its resident)."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from openjpki.card import CardStore, JpkiClient
from openjpki.rules import JST
from openjpki.services.authority import AuthorityService, initialise
from openjpki.services.counter import CounterContext, PinEntry, ResidentInput, SecretBox, add_resident
from openjpki.services.counter import issue_new_card, reissue_sign
from openjpki.services.register import change_card_particulars, move
from openjpki.services.relying_party import open_relying_party
from openjpki.services.relying_party_accounts import RpError
from openjpki.store.counter_models import Card
from openjpki.store.testing import open_test_store

T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)
PINS = PinEntry(card="1234", sign="ABC123", auth="5678")


@pytest.fixture
def ctx(tmp_path, monkeypatch, keys):
    """The counter on a fresh store.  Test speed only: the card draws its "new" RSA keys from
    the session's pre-made card keys in turn (key generation dominates otherwise)."""
    import itertools

    from openjpki.card import rsaops
    from openjpki.services.authority_setup import create_or_load_key, key_file_name

    pool = itertools.cycle([keys["card"], keys["card2"], keys["forger"]])
    monkeypatch.setattr(rsaops, "generate_key", lambda: next(pool))
    keys = tmp_path / "keys"
    for kind in ("sign", "auth"):
        create_or_load_key(keys / key_file_name(kind, 1), b"rp-links")
    with open_test_store("sqlite", tmp_path) as store:
        initialise(store, keys, b"rp-links", now=T0 - timedelta(days=30))
        authority = AuthorityService(store, keys_dir=keys, passphrase=b"rp-links")
        yield CounterContext(store=store, authority=authority,
                             cards=CardStore(tmp_path / "cards", store_key=os.urandom(32)),
                             box=SecretBox(os.urandom(32)))


def card_sign(ctx, card_db_id: int, kind: str, pin: str, data: bytes) -> tuple[bytes, bytes]:
    with ctx.store.sessions() as s:
        vcid = s.execute(select(Card.virtual_card_id).where(Card.id == card_db_id)).scalar_one()
    vc = ctx.cards.open(vcid)
    try:
        vc.power_on()
        client = JpkiClient(vc)
        client.select_jpki()
        client.verify_pin(kind, pin)
        cert = client.read_certificate(kind)
        return client.sign(kind, data), cert
    finally:
        vc.close()


def test_r4_1_r4_5_move_and_reissue_are_linked_by_the_register(ctx, tmp_path):
    rid = add_resident(ctx, ResidentInput(name="川口\u3000一郎", address="埼玉県川口市青木二丁目1番1号",
                                          birth_date=date(1975, 6, 1), sex="male"), T0)["id"]
    out = issue_new_card(ctx, rid, PINS, now=T0)
    rp = open_relying_party(ctx.authority, tmp_path)
    now = T0 + timedelta(minutes=5)

    def signed(purpose, kind, pin, when):
        c = rp.new_challenge(purpose, when)
        sig, cert = card_sign(ctx, out.card_id, kind, pin, c["challenge"].encode())
        return c["challenge_id"], sig, cert

    reg = rp.register(*signed("register", "sign", PINS.sign, now), now)
    assert reg["facts"]["name"] == "川口\u3000一郎" and reg["auth_serial"] is None
    session = rp.login(*signed("login", "auth", PINS.auth, now), now)  # linked through the card
    assert session["registration"]["id"] == reg["id"] and session["registration"]["sign_status"] == "good"

    later = T0 + timedelta(days=1)
    moved = move(ctx, rid, "埼玉県川口市本町四丁目1番1号", later)
    assert [e.kind for e in moved.ended] == ["sign"]
    after = later + timedelta(minutes=1)
    assert rp.login(*signed("login", "auth", PINS.auth, after), after)["registration"]["sign_status"] == "revoked"
    with pytest.raises(RpError) as gone:  # the old SIGN cannot register again: revoked
        rp.register(*signed("register", "sign", PINS.sign, after), after)
    assert gone.value.status == 410
    change_card_particulars(ctx, rid, later + timedelta(minutes=2))
    reissued = reissue_sign(ctx, rid, PINS, now=later + timedelta(minutes=3))
    assert [c.kind for c in reissued.issued] == ["sign"]
    then = later + timedelta(minutes=10)
    replaced = rp.replace(*signed("replace", "sign", PINS.sign, then), then)
    assert replaced["id"] == reg["id"] and replaced["replaced"] == [reg["sign_serial"]]
    assert replaced["facts"]["address"] == "埼玉県川口市本町四丁目1番1号"
