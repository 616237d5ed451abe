"""Helpers for the counter tests: moments, residents, and certificates as the authorities,
an OCSP client and the card itself show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from openjpki.card import JpkiClient
from openjpki.cli import main
from openjpki.rules import JST, to_jst
from openjpki.rules.calendars import counter_open, default_calendar
from openjpki.services.authority_ocsp import OcspResponder
from openjpki.services.counter import PinEntry, ResidentInput, add_resident

T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)  # a Tuesday, city hall open
PINS = PinEntry(card="1234", sign="ABC123", auth="5678")
PASSPHRASE = b"counter-tests-passphrase"  # the CA key files' passphrase in these tests
ROOTS_MADE = datetime(2025, 1, 6, 9, 0, tzinfo=JST)


def at(day: date, hh: int = 10, mm: int = 0) -> datetime:
    """A moment in Japan time (10:00 by default: the city hall is open on weekdays)."""
    return datetime.combine(day, time(hh, mm), JST)


def person(ctx, name="山田　太郎", birth=date(1980, 5, 15), sex="male",
           address="埼玉県川口市青木二丁目1番1号", now=T0, **kw) -> int:
    return add_resident(ctx, ResidentInput(name=name, address=address, birth_date=birth,
                                           sex=sex, **kw), now)["id"]


@dataclass
class Look:
    """What the authorities and a relying party see of a certificate."""

    status: str
    reason: str | None
    ocsp: str
    ocsp_reason: str | None


def look(ctx, serial: str, now: datetime = T0) -> Look:
    rec = ctx.authority.get(serial)
    issuer = ctx.authority.root(rec.kind)
    req = ocsp.OCSPRequestBuilder().add_certificate(
        rec.certificate, issuer, hashes.SHA1()).build()
    answer = OcspResponder(ctx.authority).respond(
        req.public_bytes(serialization.Encoding.DER), now)
    resp = ocsp.load_der_ocsp_response(answer.der)
    assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    status = resp.certificate_status.name.lower()
    reason = resp.revocation_reason.value if resp.revocation_reason else None
    return Look(rec.status, rec.reason, status, reason)


def card_certificate(ctx, virtual_card_id: str, kind: str, pin: str | None = None
                     ) -> x509.Certificate:
    """Read a certificate off the card as the holder's client does (SIGN needs its PIN)."""
    vc = ctx.cards.open(virtual_card_id)
    try:
        vc.power_on()
        client = JpkiClient(vc)
        client.select_jpki()
        if kind == "sign":
            client.verify_pin("sign", pin or PINS.sign)
        der = client.read_certificate(kind)
        assert der is not None, f"no {kind} certificate on the card"
        return x509.load_der_x509_certificate(der)
    finally:
        vc.close()


def card_pin_tries(ctx, virtual_card_id: str, kind: str) -> int:
    return ctx.cards.status(virtual_card_id)["pins"][kind]["tries_left"]


def holder_with_card(ctx, now=T0, **kw):
    """A resident with a new card carrying both certificates: (resident id, Completed)."""
    from openjpki.services.counter import Completed, issue_new_card

    rid = person(ctx, now=now, **kw)
    out = issue_new_card(ctx, rid, PINS, now=now)
    assert isinstance(out, Completed), out
    return rid, out


def serials(outcome) -> dict:
    return {c.kind: c.serial for c in outcome.issued}


def cli(capsys, home, *args):
    with pytest.raises(SystemExit) as e:
        main(["--home", str(home), *args])
    out = capsys.readouterr()
    return e.value.code or 0, out.out, out.err


def opening(after: datetime) -> datetime:
    """The next moment the city hall is open (init makes the roots at the wall clock)."""
    d = counter_open(default_calendar().office("city-hall"), after)
    return to_jst(after) if d.allowed else d.opens_at
