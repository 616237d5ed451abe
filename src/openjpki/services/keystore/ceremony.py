"""A key ceremony: one authority generation whose key pair is made inside a PKCS#11 token,
its root self-signed by the token, and a ceremony record in the audit log (who, when, which
key, the root's fingerprints) committed in the same transaction as the authority itself.

The first ceremony of a kind makes generation 1 (a home with no authority of that kind yet);
each later one makes the next generation, exactly as ``authorities rollover`` does, so the
earlier roots keep answering for what they issued. The home's ``[pki]`` table is set to the
token, so the keys are found again and the next rollover goes to the same token.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy.exc import IntegrityError

from openjpki.config import Settings
from openjpki.pki import Kind
from openjpki.services import audit
from openjpki.services.authority import AuthorityError, add_generation
from openjpki.services.authority_setup import load_pki_config, save_pki_config
from openjpki.services.keystore.stores import parse_token_ref
from openjpki.store import Store
from openjpki.store import queries as q

ACTION = "authority.ceremony"


@dataclass(frozen=True)
class CeremonyRecord:
    """What a ceremony made, as printed and as written into the audit log."""

    kind: str
    generation: int
    operator: str
    at: datetime
    token: str
    key_ref: str
    key_id: str  # CKA_ID of the key pair in the token, hex
    subject_key_id: str  # SHA-1 of the public key (the root's SKI), hex
    root_sha256: str
    root_sha1: str
    subject: str
    not_before: datetime
    not_after: datetime

    def to_dict(self) -> dict:
        return {"kind": self.kind, "generation": self.generation, "operator": self.operator,
                "at": self.at.isoformat(), "token": self.token, "key_ref": self.key_ref,
                "key_id": self.key_id, "subject_key_id": self.subject_key_id,
                "root_sha256": self.root_sha256, "root_sha1": self.root_sha1,
                "subject": self.subject, "not_before": self.not_before.isoformat(),
                "not_after": self.not_after.isoformat()}


def _fingerprint(cert: x509.Certificate, algorithm: str) -> str:
    der = cert.public_bytes(serialization.Encoding.DER)
    return hashlib.new(algorithm, der).hexdigest().upper()


def _record(kind: str, generation: int, key_ref: str, root: x509.Certificate, operator: str,
            at: datetime) -> CeremonyRecord:
    token, key_id = parse_token_ref(key_ref)
    ski = x509.SubjectKeyIdentifier.from_public_key(root.public_key()).digest.hex()  # type: ignore[arg-type]
    return CeremonyRecord(kind, generation, operator, at, token, key_ref, key_id, ski,
                          _fingerprint(root, "sha256"), _fingerprint(root, "sha1"),
                          root.subject.rfc4514_string(), root.not_valid_before_utc,
                          root.not_valid_after_utc)


def hold_ceremony(settings: Settings, kind: Kind | str, *, module: str, token: str,
                  operator: str, now: datetime) -> CeremonyRecord:
    """Make the next generation of ``kind`` with its key in ``token`` (SetupError when the
    token cannot be used; AuthorityError when another process made the same generation)."""
    from openjpki.services.authority_home import home_keys  # a cycle at module level

    kind = Kind(kind)
    config = load_pki_config(settings.config_file).with_keys("pkcs11", module, token)
    keys = home_keys(settings, config)
    settings.home.mkdir(parents=True, exist_ok=True)
    store = Store.open(settings.effective_database_url)
    made: list[CeremonyRecord] = []

    def record(s, row, root) -> None:
        made.append(_record(kind.value, row.generation, row.key_file, root, operator, now))
        audit.record(s, ACTION, now, actor=operator, subject=f"authority:{kind.value}-{row.generation}",
                     **{("root_subject" if k == "subject" else k): v
                        for k, v in made[-1].to_dict().items() if k not in ("operator", "at")})

    try:
        store.migrate()
        with store.sessions() as s:
            newest = q.current_authority(s, kind.value)
        generation = 1 if newest is None else newest.generation + 1
        environment = config.options.environment if newest is None else newest.environment
        try:
            add_generation(store, keys, kind, generation, environment, now, also=record)
        except IntegrityError:
            raise AuthorityError(f"generation {generation} of the {kind.value} authority was "
                                 "made at the same moment by another process") from None
    finally:
        store.dispose()
    save_pki_config(settings.config_file, config)
    return made[0]
