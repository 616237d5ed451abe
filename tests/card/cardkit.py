"""Test helpers: a throwaway CA made with ``cryptography`` and fully issued virtual cards.

The real authorities are another part of the project; these certificates only have to be
certificates of the card's keys, so OpenSC, openssl and the client have something real to
read and verify.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from openjpki.card import CardStore, IssuingTerminal, KeyKind

AUTH_PIN = "1234"
SIGN_PIN = "ABC123"
NOW = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class ThrowawayCA:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(Encoding.DER)

    def issue(self, public_key: rsa.RSAPublicKey, cn: str, serial: int) -> bytes:
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                                         x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
                .issuer_name(self.cert.subject)
                .public_key(public_key)
                .serial_number(serial)
                .not_valid_before(NOW - dt.timedelta(days=1))
                .not_valid_after(NOW + dt.timedelta(days=365 * 5))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, True, False, False, False, False, False,
                                             False, False), critical=True)
                .sign(self.key, hashes.SHA256()))
        return cert.public_bytes(Encoding.DER)


@lru_cache(maxsize=None)
def throwaway_ca(kind: str) -> ThrowawayCA:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenJPKI test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"Test {kind.upper()} CA")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(NOW - dt.timedelta(days=10))
            .not_valid_after(NOW + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    return ThrowawayCA(key, cert)


@dataclass
class IssuedCard:
    card_id: str
    secret: bytes
    certs: dict[str, bytes]  # kind -> DER


def issue(terminal: IssuingTerminal, card_id: str, *, auth_pin: str = AUTH_PIN,
          sign_pin: str = SIGN_PIN) -> dict[str, bytes]:
    """Generate both keys on the card, certify them, write everything, set both PINs."""
    certs = {}
    for serial, kind in enumerate(KeyKind, start=100):
        ca = throwaway_ca(kind.value)
        public_key = terminal.generate_key(kind)
        certs[kind.value] = ca.issue(public_key, f"{card_id} {kind.value}", serial)
        terminal.write_certificate(kind, certs[kind.value])
        terminal.write_ca_certificate(kind, ca.der)
    terminal.reset_pin(KeyKind.AUTH, auth_pin)
    terminal.reset_pin(KeyKind.SIGN, sign_pin)
    return certs


def make_card(cards_dir: Path, card_id: str = "TESTCARD1", **pins: str) -> IssuedCard:
    """A fully issued card in the card store at ``cards_dir`` (closed again)."""
    store = CardStore(cards_dir)
    secret = store.create(card_id)
    with store.open(card_id) as card:
        terminal = IssuingTerminal(card, secret)
        certs = issue(terminal, card_id, **pins)
        personalise(terminal)
    return IssuedCard(card_id, secret, certs)


# --- the particulars (券面事項入力補助AP, 券面事項確認AP, 住基AP) ---------------------------------
INPUT_PIN = "4321"
CARD_PIN = "2468"


@lru_cache(maxsize=None)
def issuer_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sample_facts():
    from openjpki.card.personal import CardFacts
    return CardFacts(individual_number="999000000008", name="山田　花子",
                     address="埼玉県川口市青木二丁目１番１号", birth_date=dt.date(1990, 4, 1),
                     sex=2, card_expiry=dt.date(2035, 4, 1), security_code="5678")


def personalise(terminal: IssuingTerminal, facts=None, *, input_pin: str = INPUT_PIN,
                card_pin: str = CARD_PIN) -> None:
    from openjpki.card.personal import card_files
    from openjpki.card.pins import PinId
    facts = facts or sample_facts()
    pins = {**facts.derived_pins(), PinId.INPUT: input_pin, PinId.CARD: card_pin}
    terminal.personalise(card_files(facts, issuer_key()), pins)
