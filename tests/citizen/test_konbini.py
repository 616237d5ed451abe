"""Convenience-store issuance (R7.1, R7.2, R3.5): login by the card's AUTH signature over a
challenge, checked against the AUTH certificate and its status; the certificate of residence
as a PDF with Japanese text."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta

import pytest

from openjpki.card import JpkiClient
from openjpki.rules import JST, Refused, convenience_services_from
from openjpki.services.counter import Completed, hold, renew, revoke
from openjpki.services.konbini import (
    KonbiniLogin, ResidenceCertificate, issue_residence_certificate, konbini_login,
)
from openjpki.store.citizen_models import KonbiniIssuance

from .citizenkit import PINS, T0, actions, child_holder, holder, in_reader, pdf_text, squash, tries_left


def issue(ctx, h, now, out_dir, pin=PINS.auth, **kw):
    with in_reader(ctx, h) as card:
        return issue_residence_certificate(ctx, card, pin, now=now, out_dir=out_dir, **kw)


def refused(out, rule):
    assert isinstance(out, Refused), out
    assert out.rule == rule, (out.rule, out.message_en)
    return out


def test_R7_1_login_by_the_cards_auth_signature_and_the_residence_certificate(ctx, tmp_path):
    h = holder(ctx, name="山田　太郎", name_kana="やまだ　たろう",
               address="埼玉県川口市青木二丁目1番1号", birth=date(1980, 5, 15))
    out = issue(ctx, h, T0, tmp_path / "konbini")
    assert isinstance(out, ResidenceCertificate), out
    assert out.auth_serial == h.serials["auth"] and out.rule == "R7.2"
    data = out.path.read_bytes()
    assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == out.sha256
    text = pdf_text(out.path)
    for expected in ("住民票の写し", "山田　太郎", "やまだ　たろう", "埼玉県川口市青木二丁目1番1号",
                     "昭和55年5月15日", "男", "世帯主", "この写しは、住民票の原本と相違ないことを証明する。",
                     "埼玉県川口市長", out.reference):
        assert squash(expected) in text, expected
    with ctx.store.transaction() as s:
        row = s.query(KonbiniIssuance).one()
        assert (row.resident_id, row.auth_serial, row.sha256) == (h.resident_id,
                                                                 h.serials["auth"], out.sha256)
    acts = actions(ctx, h.resident_id)
    assert ("konbini.login", "R7.2") in acts and ("konbini.issued", "R7.2") in acts


def test_R7_1_the_pin_is_checked_by_the_card(sctx, tmp_path):
    h = holder(sctx)
    refused(issue(sctx, h, T0, tmp_path, pin="0000"), "R1.4")
    assert tries_left(sctx, h, "auth") == 2
    assert not list(tmp_path.glob("*.pdf"))
    assert ("konbini.login.refused", "R1.4") in actions(sctx, h.resident_id)


def test_R7_1_locked_auth_pin(sctx, tmp_path):
    h = holder(sctx)
    for _ in range(3):
        issue(sctx, h, T0, tmp_path, pin="0000")
    refused(issue(sctx, h, T0, tmp_path), "R1.7")


def test_R7_1_under_15_refused(sctx, tmp_path):
    child = child_holder(sctx)
    assert "sign" not in child.serials  # R1.5: no SIGN under 15, but AUTH
    out = refused(issue(sctx, child, T0, tmp_path), "R7.1")
    assert "15" in out.message_ja
    assert not list(tmp_path.glob("*.pdf"))


def test_R7_1_fifteenth_birthday_opens_the_service(sctx, tmp_path):
    teen = child_holder(sctx, name="山田　次郎", birth=date(2010, 4, 2))
    refused(issue(sctx, teen, datetime(2025, 4, 1, 12, 0, tzinfo=JST), tmp_path), "R7.1")
    assert isinstance(issue(sctx, teen, datetime(2025, 4, 2, 12, 0, tzinfo=JST), tmp_path),
                      ResidenceCertificate)


@pytest.mark.parametrize("end", ["revoked", "hold"])
def test_R7_1_auth_certificate_must_be_good(sctx, tmp_path, end):
    h = holder(sctx)
    later = T0 + timedelta(days=1)
    if end == "revoked":
        done = revoke(sctx, h.resident_id, now=later, kinds=["auth"])
    else:
        done = hold(sctx, h.resident_id, now=later, kinds=["auth"])
    assert isinstance(done, Completed), done
    refused(issue(sctx, h, later + timedelta(hours=1), tmp_path), "R7.1")


def test_R7_1_expired_auth_certificate(sctx, tmp_path):
    h = holder(sctx, birth=date(1980, 5, 15))
    # AUTH expires on the 5th birthday after the issue day (R2.1): 2029-05-15.
    refused(issue(sctx, h, datetime(2029, 5, 16, 10, 0, tzinfo=JST), tmp_path), "R7.1")
    assert isinstance(issue(sctx, h, datetime(2029, 5, 15, 10, 0, tzinfo=JST), tmp_path),
                      ResidenceCertificate)


class Tampering:
    """A reader that flips one bit of the card's signature on the way back."""

    def __init__(self, card):
        self.card = card

    def transmit(self, apdu: bytes) -> bytes:
        r = bytearray(self.card.transmit(apdu))
        if apdu[1] == 0x2A and len(r) > 2:
            r[10] ^= 0x01
        return bytes(r)


def test_R7_1_a_signature_that_does_not_verify_is_no_login(sctx):
    h = holder(sctx)
    with in_reader(sctx, h) as card:
        out = refused(konbini_login(sctx, Tampering(card), PINS.auth, now=T0), "R7.1")
    assert "signature" in out.message_en


def test_R7_1_each_login_signs_a_fresh_challenge_on_the_card(sctx):
    h = holder(sctx)
    seen = []

    class Spy:
        def __init__(self, card):
            self.card = card

        def transmit(self, apdu):
            if apdu[1] == 0x2A:
                seen.append(bytes(apdu))
            return self.card.transmit(apdu)
    with in_reader(sctx, h) as card:
        for _ in range(2):
            assert isinstance(konbini_login(sctx, Spy(card), PINS.auth, now=T0), KonbiniLogin)
    assert len(seen) == 2 and seen[0] != seen[1]


def test_R7_2_hours_6_30_to_23_00(sctx, tmp_path):
    h = holder(sctx)
    for hh, mm, ok in [(6, 29, False), (6, 30, True), (22, 59, True), (23, 0, False),
                       (0, 30, False)]:
        out = issue(sctx, h, datetime(2025, 4, 2, hh, mm, tzinfo=JST), tmp_path)
        if ok:
            assert isinstance(out, ResidenceCertificate), (hh, mm, out)
        else:
            out = refused(out, "R7.2")
            assert out.opens_at is not None and out.opens_at.strftime("%H:%M") == "06:30"
            assert tries_left(sctx, h, "auth") == 3  # the card was not asked for its PIN


def test_R7_2_R3_5_two_business_days_after_a_renewal(sctx, tmp_path):
    """A foreign resident whose stay ends on 2025-06-10: the certificates end then (R2.3), so
    the renewal window is open at once (R3.1)."""
    h = holder(sctx, name="スミス　ジョン", foreign_resident=True, stay_until=date(2025, 6, 10))
    renewed_at = datetime(2025, 4, 3, 11, 0, tzinfo=JST)  # a Thursday
    done = renew(sctx, h.resident_id, PINS, now=renewed_at)
    assert isinstance(done, Completed), done
    opens = convenience_services_from(date(2025, 4, 3))
    assert opens == date(2025, 4, 7)  # Friday 4th, Monday 7th
    for day in (date(2025, 4, 3), date(2025, 4, 4), date(2025, 4, 5), date(2025, 4, 6)):
        out = refused(issue(sctx, h, datetime.combine(day, datetime.min.time(), JST)
                            .replace(hour=12), tmp_path), "R7.2")
        assert out.opens_on == opens
    assert isinstance(issue(sctx, h, datetime(2025, 4, 7, 7, 0, tzinfo=JST), tmp_path),
                      ResidenceCertificate)


def test_a_new_issuance_is_not_a_renewal(sctx, tmp_path):
    """R3.5 speaks of renewals: a first AUTH certificate works the same day."""
    h = holder(sctx)
    assert isinstance(issue(sctx, h, T0 + timedelta(hours=1), tmp_path), ResidenceCertificate)


def test_the_card_forgets_the_pin_after_login(sctx):
    from openjpki.card import CardError
    h = holder(sctx)
    with in_reader(sctx, h) as card:
        assert isinstance(konbini_login(sctx, card, PINS.auth, now=T0), KonbiniLogin)
        client = JpkiClient(card)
        with pytest.raises(CardError):
            client.sign("auth", b"after the session")
