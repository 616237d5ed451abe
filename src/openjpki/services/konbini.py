"""Convenience-store issuance (コンビニ交付, R7.1, R7.2, R3.5): log in with the AUTH
certificate, then print a certificate of residence (住民票の写し).

    out = issue_residence_certificate(ctx, transport, auth_pin="5678", now=now,
                                      out_dir=home / "konbini")

Login (R7.1): the kiosk sends a fresh random challenge; the CARD signs it with the AUTH key
after the AUTH PIN is verified on it (the holder client over the card's APDU interface);
the kiosk checks the signature with the AUTH certificate read from the card, that the
certificate was issued by the AUTH authority, and — through the authority service — that it
is the one on record, good (not revoked or held) and not expired. Then
:func:`~openjpki.rules.convenience_issuance_decision` decides: not under 15 (R7.1), within
6:30–23:00 (R7.2) and not before the 2nd business day after an AUTH renewal (R7.2, R3.5).

The PDF carries the resident's register facts (:mod:`letters_pdf_juminhyo`); each issuance
is recorded (``konbini_issuances``, with the PDF's SHA-256) and audited.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, ClassVar

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import select
from sqlalchemy.orm import Session

from openjpki.card import JpkiClient
from openjpki.card.client import Transport
from openjpki.rules import (
    Allowed, Refused, convenience_issuance_decision, convenience_login_decision, kiosk_open,
    residence_certificate_decision, to_jst,
)
from openjpki.rules.kinds import PinKind
from openjpki.services.audit import record
from openjpki.services.authority import UnknownCertificate
from openjpki.services.counter.context import CounterContext
from openjpki.services.kiosk import kiosk_hours
from openjpki.services.kiosk_card import (
    NotFound, card_of_certificate, forget_pins, peek_serial, read_with_pin,
)
from openjpki.services.letters_pdf import write_pdf
from openjpki.services.letters_pdf_juminhyo import ResidenceFacts, render_residence_certificate
from openjpki.store.citizen_models import KonbiniIssuance
from openjpki.store.counter_models import Application, Card, CardCertificate
from openjpki.store.residents import Resident

ACTOR = "konbini-kiosk"
CHALLENGE_BYTES = 32
DOCUMENT = "juminhyo"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True)
class KonbiniLogin:
    """The holder proved with the card and the AUTH PIN (R7.1), and may use the service."""

    resident_id: int
    card_id: int
    auth_serial: str
    decision: Allowed

    outcome: ClassVar[str] = "logged_in"
    allowed: ClassVar[bool] = True

    @property
    def rule(self) -> str:
        return self.decision.rule


@dataclass(frozen=True)
class ResidenceCertificate:
    """A 住民票の写し printed at the kiosk."""

    reference: str
    resident_id: int
    card_id: int
    auth_serial: str
    path: Path
    sha256: str
    rule: str
    message_ja: str
    message_en: str

    outcome: ClassVar[str] = "issued"
    allowed: ClassVar[bool] = True

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "allowed": True, "rule": self.rule,
                "reference": self.reference, "resident_id": self.resident_id,
                "card_id": self.card_id, "auth_serial": self.auth_serial,
                "path": str(self.path), "sha256": self.sha256,
                "message_ja": self.message_ja, "message_en": self.message_en}


def konbini_login(ctx: CounterContext, transport: Transport, auth_pin: str, *,
                  now: datetime, challenge: bytes | None = None,
                  kiosk_id: str = "konbini-0001") -> KonbiniLogin | Refused:
    """R7.1/R7.2: log the holder in with the card's AUTH key and PIN; refusals audited."""
    hours = kiosk_hours(ctx)
    closed = kiosk_open(now, "R7.2", hours)
    if isinstance(closed, Refused):  # the terminal does not take cards out of hours
        _audit_refusal(ctx, None, closed, now, kiosk_id, stage="hours")
        return closed
    challenge = challenge if challenge is not None else os.urandom(CHALLENGE_BYTES)
    client = JpkiClient(transport)
    client.select_jpki()
    seen = peek_serial(client)
    read = read_with_pin(client, PinKind.AUTH, auth_pin)
    if isinstance(read, Refused):
        forget_pins(client)
        _audit_refusal(ctx, seen, read, now, kiosk_id, stage="pin")
        return read
    signature = client.sign("auth", challenge)  # on the card, with the AUTH PIN verified
    forget_pins(client)
    cert = read.certificate
    problem = _check_login(ctx, cert, read.der, signature, challenge)
    auth_valid, why = _auth_status(ctx, read.serial, read.der, now)
    with ctx.store.transaction() as s:
        card = card_of_certificate(s, read.serial)
        login = convenience_login_decision(problem)  # R7.1
        if isinstance(login, Refused):
            _audit(s, card, "konbini.login.refused", now, kiosk_id, rule=login.rule,
                   stage="signature", problem=problem)
            return login
        r = s.get(Resident, card.resident_id)
        assert r is not None
        registered = residence_certificate_decision(r.on_register)  # R5.2
        if isinstance(registered, Refused):
            _audit(s, card, "konbini.login.refused", now, kiosk_id, rule=registered.rule,
                   stage="register")
            return registered
        decision = convenience_issuance_decision(
            r.birth_date, now, auth_valid=auth_valid,
            auth_renewed_on=auth_renewed_on(s, card, read.serial), hours=hours)
        if isinstance(decision, Refused):
            _audit(s, card, "konbini.login.refused", now, kiosk_id, rule=decision.rule,
                   stage="rules", auth_status=why)
            return decision
        _audit(s, card, "konbini.login", now, kiosk_id, rule=decision.rule,
               auth_serial=read.serial)
        return KonbiniLogin(r.id, card.id, read.serial, decision)


def _check_login(ctx: CounterContext, cert: x509.Certificate, der: bytes, signature: bytes,
                 challenge: bytes) -> str | None:
    """Why the card's answer does not log in, or None: the signature over the challenge
    verifies with the certificate's key, and the AUTH authority issued the certificate."""
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return "the certificate does not hold an RSA key"
    try:
        key.verify(signature, challenge, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return "the card's signature over the challenge does not verify"
    try:
        cert.verify_directly_issued_by(ctx.authority.root("auth"))
    except (ValueError, TypeError, InvalidSignature):
        return "the certificate was not issued by the user authentication authority"
    return None


def _auth_status(ctx: CounterContext, serial: str, der: bytes, now: datetime
                 ) -> tuple[bool, str]:
    """Is the AUTH certificate the one on record, good and within its validity at ``now``?"""
    try:
        rec = ctx.authority.get(serial)
    except UnknownCertificate:
        return False, "unknown"
    if rec.der != der or rec.kind != "auth":
        return False, "not-on-record"
    if rec.status != "good":
        return False, rec.status
    if not rec.not_before <= now <= rec.not_after:
        return False, "expired"
    return True, "good"


def auth_renewed_on(s: Session, card: Card, serial: str) -> date | None:
    """R3.5: the Japan day the AUTH certificate ``serial`` was written by a renewal, or None
    when it came from another procedure (a new issuance)."""
    row = s.execute(
        select(CardCertificate.written_at, Application.procedure)
        .join(Application, Application.id == CardCertificate.application_id)
        .where(CardCertificate.card_id == card.id, CardCertificate.serial == serial)
    ).first()
    if row is None or row.procedure != "renewal":
        return None
    return to_jst(row.written_at).date()


def issue_residence_certificate(ctx: CounterContext, transport: Transport, auth_pin: str, *,
                                now: datetime, out_dir: Path,
                                kiosk_id: str = "konbini-0001",
                                challenge: bytes | None = None
                                ) -> ResidenceCertificate | Refused:
    """Log in (R7.1, R7.2) and print the holder's 住民票の写し into ``out_dir``."""
    login = konbini_login(ctx, transport, auth_pin, now=now, challenge=challenge,
                          kiosk_id=kiosk_id)
    if isinstance(login, Refused):
        return login
    reference = "KON-" + "".join(secrets.choice(_ALPHABET) for _ in range(12))
    with ctx.store.transaction() as s:
        facts = residence_facts(s, login.resident_id, reference, now, kiosk_id)
    pdf = render_residence_certificate(facts)
    digest = hashlib.sha256(pdf).hexdigest()
    path = Path(out_dir) / f"{reference}.pdf"
    write_pdf(path, pdf)
    try:
        with ctx.store.transaction() as s:
            s.add(KonbiniIssuance(reference=reference, resident_id=login.resident_id,
                                  card_id=login.card_id, auth_serial=login.auth_serial,
                                  document=DOCUMENT, kiosk_id=kiosk_id, sha256=digest,
                                  issued_at=now))
            s.flush()
            record(s, "konbini.issued", now, actor=ACTOR,
                   subject=f"resident:{login.resident_id}", card_id=login.card_id,
                   document=DOCUMENT, reference=reference, sha256=digest, kiosk_id=kiosk_id,
                   rule=login.rule)
    except BaseException:
        path.unlink(missing_ok=True)  # nothing handed out that is not on record
        raise
    return ResidenceCertificate(
        reference, login.resident_id, login.card_id, login.auth_serial, path, digest,
        login.rule, "住民票の写しを交付しました。", "The certificate of residence was issued.")


def residence_facts(s: Session, resident_id: int, reference: str, now: datetime,
                    kiosk_id: str) -> ResidenceFacts:
    """What the 住民票の写し prints, from the register."""
    r = s.get(Resident, resident_id)
    assert r is not None
    head = s.execute(select(Resident.name).where(
        Resident.household_id == r.household_id, Resident.relationship == "head",
        Resident.on_register.is_(True)).order_by(Resident.id).limit(1)).scalar_one_or_none()
    return ResidenceFacts(
        reference=reference, issued_on=to_jst(now).date(), name=r.name,
        name_kana=r.name_kana, birth_date=r.birth_date, sex=r.sex, address=r.address,
        household_head=head or r.name, relationship=r.relationship,
        registered_on=to_jst(r.registered_at).date(), address_changed_on=r.address_changed_on,
        former_surname=r.former_surname, alias=r.alias, prefecture=r.prefecture,
        municipality=r.municipality, kiosk_id=kiosk_id)


def _audit(s: Session, card: Card | None, action: str, now: datetime, kiosk_id: str,
           **payload: Any) -> None:
    record(s, action, now, actor=ACTOR,
           subject=f"resident:{card.resident_id}" if card is not None else None,
           card_id=card.id if card is not None else None, kiosk_id=kiosk_id, **payload)


def _audit_refusal(ctx: CounterContext, serial: str | None, refusal: Refused, now: datetime,
                   kiosk_id: str, *, stage: str) -> None:
    with ctx.store.transaction() as s:
        card = None
        if serial is not None:
            try:
                card = card_of_certificate(s, serial)
            except NotFound:
                card = None
        _audit(s, card, "konbini.login.refused", now, kiosk_id, rule=refusal.rule, stage=stage)
