"""One truth for the facts: the register's particulars written to the card (券面事項入力補助AP,
券面事項確認AP), signed by the card issuer, with the PINs derived from them (照合番号A/B).

- The individual number is the register's (``residents.individual_number``); the name is
  the one the SIGN certificate carries (``facts.sign_name``: 旧氏 and 通称 included), the
  address, birth date and sex are the register's, so the card's files and the SIGN
  certificate's subjectAltName say the same.
- The security code is random, made with the card (4 digits), printed on its face and kept
  sealed in ``cards.security_code_enc`` under the counter key; 照合番号B ends with it.
- The card-issuer key that signs EF 0003 (and the card face) is the home's own RSA-2048 key
  ``<home>/keys/card-issuer.pem`` (mode 0600), made on first use; its card-verifiable
  certificate is EF 0004.

記載事項変更 (R5.2) calls :func:`write_particulars` again: the files are rewritten from the
register and re-signed, 照合番号A/B follow them.
"""

from __future__ import annotations

import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openjpki.card.personal import CardFacts, card_files
from openjpki.card.pins import PinId
from openjpki.services.counter.context import CounterContext
from openjpki.services.counter.facts import sign_name
from openjpki.store.counter_models import Card
from openjpki.store.residents import Resident

ISSUER_KEY_FILE = "card-issuer.pem"


def load_or_create_issuer_key(keys_dir: Path) -> rsa.RSAPrivateKey:
    """The home's card-issuer key (made once, exclusively, mode 0600)."""
    path = keys_dir / ISSUER_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    try:
        os.write(fd, key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
        os.fsync(fd)
    finally:
        os.close(fd)
    return key


@lru_cache(maxsize=1)
def _ephemeral_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issuer_key(ctx: CounterContext) -> rsa.RSAPrivateKey:
    """The context's card-issuer key; a context built without one (tests) uses a key made
    once per process."""
    return ctx.issuer_key if ctx.issuer_key is not None else _ephemeral_key()


def _context(card: Card) -> str:
    return f"security-code:{card.virtual_card_id}"


def sealed_security_code(ctx: CounterContext, card: Card) -> str | None:
    """The card's security code if it has one (cards made before the particulars: none)."""
    if card.security_code_enc is None:
        return None
    return ctx.box.open(card.security_code_enc, _context(card)).decode("ascii")


def security_code(ctx: CounterContext, card: Card) -> str:
    """The card's security code, made (and sealed on the card's row) when it has none."""
    if card.security_code_enc is not None:
        return ctx.box.open(card.security_code_enc, _context(card)).decode("ascii")
    code = f"{secrets.randbelow(10 ** 4):04d}"
    card.security_code_enc = ctx.box.seal(code.encode("ascii"), _context(card))
    return code


def card_facts(ctx: CounterContext, r: Resident, card: Card) -> CardFacts:
    if not r.individual_number:
        raise ValueError(f"resident {r.id} has no individual number")
    return CardFacts(individual_number=r.individual_number, name=sign_name(r),
                     address=r.address, birth_date=r.birth_date, sex=r.sex,
                     card_expiry=card.expires_on, security_code=security_code(ctx, card))


def write_particulars(ctx: CounterContext, work, r: Resident, card: Card,
                      pins: dict[PinId, str] | None = None) -> CardFacts:
    """Write the register's particulars to the open card (``cardops.CardWork``), signed,
    with 照合番号A/B and ``pins`` (the 4-digit PINs chosen at issuance)."""
    facts = card_facts(ctx, r, card)
    work.terminal.personalise(card_files(facts, issuer_key(ctx)),
                              {**facts.derived_pins(), **(pins or {})})
    return facts
