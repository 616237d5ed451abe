"""An initialised OpenJPKI home for the relying-party tests of the CLI, the API and OCSP:
both authorities in a SQLite store, and cards' keys to sign with."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openjpki.config import Settings
from openjpki.pki import Kind, SignFacts
from openjpki.services.authority import AuthorityService
from openjpki.services.authority_home import initialise_home, open_authorities

from .conftest import NOW, PLACE


@dataclass
class Home:
    settings: Settings
    service: AuthorityService

    def issue(self, kind: str, key: rsa.RSAPrivateKey, *, facts: SignFacts | None = None,
              resident_id: str | None = None, supersede: bool = False, now=NOW,
              last_valid_day: date = date(2029, 2, 28)) -> x509.Certificate:
        extra = dict(prefecture=PLACE[0], municipality=PLACE[1], facts=facts) if kind == "sign" else {}
        rec = self.service.issue(Kind(kind), key.public_key(), last_valid_day=last_valid_day, now=now,
                                 resident_id=resident_id, supersede=supersede, **extra)
        return rec.certificate

    def pem(self, cert: x509.Certificate) -> bytes:
        return cert.public_bytes(serialization.Encoding.PEM)


def make_home(path: Path) -> Home:
    settings = Settings.resolve(path)
    initialise_home(settings, now=NOW - timedelta(days=400))
    return Home(settings, open_authorities(settings))
