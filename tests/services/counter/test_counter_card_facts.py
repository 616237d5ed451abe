"""One truth for the facts: the register, the card's 券面事項入力補助AP / 券面事項確認AP and the
SIGN certificate's subjectAltName say the same, after issuance, a move, a name change (each
followed by 記載事項変更, R5.2, and the R4.5 re-issue) and a re-issue on a new card."""

from __future__ import annotations

import os
import time
from datetime import date

import pytest
from sqlalchemy import select

from openjpki.card.holder import HolderClient
from openjpki.card.pins import PinId
from openjpki.pki import read_sign_facts
from openjpki.rules.individual_number import is_synthetic
from openjpki.services import register
from openjpki.services.counter import Completed, issue_new_card, reissue_sign, show_resident
from openjpki.services.counter.cardfacts import security_code
from openjpki.store.counter_models import Card

from .kit import PINS, at, card_certificate, holder_with_card

DAY = at(date(2025, 6, 2))


def _card_says(ctx, vid: str) -> dict:
    vc = ctx.cards.open(vid)
    try:
        vc.power_on()
        client = HolderClient(vc)
        facts = client.facts(PINS.card).to_dict()  # the 入力補助 PIN starts as the card PIN
        with ctx.store.transaction() as s:
            card = s.execute(select(Card).where(Card.virtual_card_id == vid)).scalar_one()
            code, expiry = security_code(ctx, card), card.expires_on
        pin_b = f"{date.fromisoformat(facts['birth_date']):%y%m%d}{expiry.year}{code}"
        face = client.face(pin_b, using=PinId.FACE_B)
        assert face["birth_date"] == facts["birth_date"].replace("-", "")
        assert face["card_expiry"] == f"{expiry:%Y%m%d}" and face["sex"] == facts["sex"]
        return facts
    finally:
        vc.close()


def _agree(ctx, rid: int, vid: str) -> dict:
    reg = show_resident(ctx, rid)
    card = _card_says(ctx, vid)
    cert = read_sign_facts(card_certificate(ctx, vid, "sign"))
    assert is_synthetic(reg["individual_number"])
    assert card["individual_number"] == reg["individual_number"]
    assert card["name"] == reg["name"] == cert.name
    assert card["address"] == reg["address"] == cert.address
    assert card["birth_date"] == reg["birth_date"] == cert.birth_date.isoformat()
    assert {"1": 1, "2": 2, "9": 3}[card["sex"]] == reg["sex"] == cert.sex
    return card


def test_register_card_and_sign_certificate_agree_through_changes(ctx):
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    before = _agree(ctx, rid, vid)

    register.move(ctx, rid, "埼玉県川口市本町一丁目2番3号", DAY)
    register.change_card_particulars(ctx, rid, DAY)  # R5.2: the card is rewritten, re-signed
    assert isinstance(reissue_sign(ctx, rid, PINS, now=DAY), Completed)
    moved = _agree(ctx, rid, vid)
    assert moved["address"] == "埼玉県川口市本町一丁目2番3号" != before["address"]

    register.change_name(ctx, rid, DAY, name="鈴木　太郎")
    register.change_card_particulars(ctx, rid, DAY)
    assert isinstance(reissue_sign(ctx, rid, PINS, now=DAY), Completed)
    assert _agree(ctx, rid, vid)["name"] == "鈴木　太郎"

    again = issue_new_card(ctx, rid, PINS, now=DAY)  # re-issue on a new card
    assert isinstance(again, Completed), again
    new_vid = again.details["virtual_card_id"]
    assert new_vid != vid
    renewed = _agree(ctx, rid, new_vid)
    assert renewed["individual_number"] == before["individual_number"]  # the person's, kept


def test_individual_numbers_are_unique_and_valid(ctx):
    from .kit import person

    numbers = {show_resident(ctx, person(ctx, name=f"試験　{i}"))["individual_number"]
               for i in range(20)}
    assert len(numbers) == 20 and all(is_synthetic(n) for n in numbers)


@pytest.mark.pcsc
def test_facts_read_through_pcsc_agree_with_register_and_sign_certificate(ctx):
    """The counter's card in the vpcd reader (the real bridge in a thread), read by the
    holder client through pcscd: the facts are the register's and the SIGN certificate's."""
    import threading

    from cryptography import x509

    from openjpki.card.pcsc import PcscTransport
    from openjpki.card.vpcd import VpcdBridge
    from openjpki.pki.facts import read_sign_facts as facts_of
    from tests.card.conftest import pcsc_skip_reason, reader0_atr

    if not os.environ.get("OPENJPKI_PCSC_READY"):  # the shared reader: only when told (pcsc)
        pytest.skip("OPENJPKI_PCSC_READY is not set: pcscd with the vpcd reader is needed "
                    "(scripts/test starts it)")
    reason = pcsc_skip_reason()
    if reason:
        pytest.skip(reason)
    rid, first = holder_with_card(ctx)
    vid = first.details["virtual_card_id"]
    vc = ctx.cards.open(vid)
    bridge = VpcdBridge(vc, on_event=lambda m: None)
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    try:
        for _ in range(100):
            if reader0_atr() is not None:
                break
            time.sleep(0.1)
        with PcscTransport("Virtual PCD 00 00") as t:
            client = HolderClient(t)
            facts = client.facts(PINS.card).to_dict()
            client.jpki.select_jpki()
            client.jpki.verify_pin("sign", PINS.sign)
            cert = x509.load_der_x509_certificate(client.jpki.read_certificate("sign"))
    finally:
        bridge.stop()
        thread.join(10)
        vc.close()
        for _ in range(100):
            if reader0_atr() is None:
                break
            time.sleep(0.1)
    reg = show_resident(ctx, rid)
    san = facts_of(cert)
    assert facts["individual_number"] == reg["individual_number"]
    assert facts["name"] == reg["name"] == san.name
    assert facts["address"] == reg["address"] == san.address
    assert facts["birth_date"] == reg["birth_date"] == san.birth_date.isoformat()
