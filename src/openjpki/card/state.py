"""The card's lasting state (what a chip keeps in EEPROM) and how it is kept durably.

Kept per card, as ONE file, ``<cards>/<card_id>/state.bin``, replaced atomically:
write a temporary file, fsync it, rename it over the old one, fsync the directory. The
state is small (tens of KB: two keys, four certificates, eight PIN records, the other
applications' data and face images) and always changes
as a unit, so an atomic whole-file replace gives all-or-nothing updates with nothing to
recover after a crash; SQLite (synchronous=FULL) would give the same guarantee with a
journal we do not need. One process at a time holds a card (an exclusive lock, see
``store.py``), so there is a single writer.

At rest the whole file is sealed with AES-256-GCM under a key derived (HKDF-SHA256, info =
card id) from the card store's key — a random 32-byte file ``<cards>/store.key`` (mode
0600) that plays the part of the chip's hardware secret. The issuing secret cannot serve
as that key: the card itself must hold it at rest to check the issuing terminal's MAC. So
private keys, the issuing secret, PIN records and the (personal) SIGN certificate are
unreadable from a copy of the card directory without the store key. PINs are kept only as
HMAC-SHA256 under a per-card random key; with 4-digit AUTH PINs that is hygiene, not a
defence against someone holding the store key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from openjpki.card.apps import App
from openjpki.card.layout import DEFAULT_ATR
from openjpki.card.pins import PIN_TRIES, KeyKind, PinId

FORMAT = "openjpki-card/2"
_OLD_FORMATS = ("openjpki-card/1",)  # read, and written back as /2 on the next change
_MAGIC = b"OJC1"


@dataclass
class PinRecord:
    """A PIN as the card keeps it. ``ref`` None: no PIN set yet (unusable, like a blocked
    one, until the issuing terminal sets it)."""

    ref: bytes | None
    tries: int

    @property
    def usable(self) -> bool:
        return self.ref is not None and self.tries > 0


@dataclass(repr=False)
class CardState:
    card_id: str
    issuing_secret: bytes
    pin_salt: bytes
    atr: bytes = DEFAULT_ATR
    pins: dict[PinId, PinRecord] = field(default_factory=lambda: {
        k: PinRecord(None, 0) for k in PinId})
    keys: dict[KeyKind, bytes | None] = field(default_factory=lambda: {k: None for k in KeyKind})
    files: dict[int, bytes] = field(default_factory=dict)  # JPKI certificate EFs: DER only
    # The other applications' data EFs, as the issuer wrote them.
    data: dict[tuple[App, int], bytes] = field(default_factory=dict)
    manufacture_number: str = ""

    def __repr__(self) -> str:  # never the secrets
        return f"CardState(card_id={self.card_id!r})"

    def __reduce__(self):  # no pickling of secrets into places we do not control
        raise TypeError("card state is not picklable")

    @classmethod
    def blank(cls, card_id: str, atr: bytes = DEFAULT_ATR) -> "CardState":
        return cls(card_id=card_id, issuing_secret=os.urandom(32), pin_salt=os.urandom(32),
                   atr=atr, manufacture_number=_manufacture_number())

    def clone(self) -> "CardState":
        return CardState(card_id=self.card_id, issuing_secret=self.issuing_secret,
                         pin_salt=self.pin_salt, atr=self.atr,
                         pins={k: PinRecord(v.ref, v.tries) for k, v in self.pins.items()},
                         keys=dict(self.keys), files=dict(self.files), data=dict(self.data),
                         manufacture_number=self.manufacture_number)

    def pin_ref(self, pin: bytes) -> bytes:
        return hmac.new(self.pin_salt, pin, hashlib.sha256).digest()

    def pin_matches(self, kind: PinId | KeyKind, pin: bytes) -> bool:
        ref = self.pins[PinId.of(kind)].ref
        return ref is not None and hmac.compare_digest(ref, self.pin_ref(pin))

    def set_pin(self, kind: PinId | KeyKind, pin: bytes) -> None:
        """A new PIN with a full retry count (R1.4, R1.7)."""
        pid = PinId.of(kind)
        self.pins[pid] = PinRecord(self.pin_ref(pin), PIN_TRIES[pid])

    # --- serialisation -------------------------------------------------------------
    def to_json(self) -> bytes:
        b64 = lambda b: None if b is None else base64.b64encode(b).decode()  # noqa: E731
        doc = {
            "format": FORMAT,
            "card_id": self.card_id,
            "atr": self.atr.hex(),
            "issuing_secret": b64(self.issuing_secret),
            "pin_salt": b64(self.pin_salt),
            "pins": {k.value: {"ref": b64(v.ref), "tries": v.tries} for k, v in self.pins.items()},
            "keys": {k.value: b64(v) for k, v in self.keys.items()},
            "files": {f"{fid:04X}": b64(v) for fid, v in sorted(self.files.items())},
            "data": {f"{app.value}/{fid:04X}": b64(v) for (app, fid), v in self.data.items()},
            "manufacture_number": self.manufacture_number,
        }
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "CardState":
        doc = json.loads(raw)
        if doc.get("format") != FORMAT and doc.get("format") not in _OLD_FORMATS:
            raise ValueError(f"unknown card state format {doc.get('format')!r}")
        unb64 = lambda s: None if s is None else base64.b64decode(s)  # noqa: E731
        pins = {k: PinRecord(None, 0) for k in PinId}  # a /1 card: only the JPKI PINs
        pins.update({PinId(k): PinRecord(unb64(v["ref"]), int(v["tries"]))
                     for k, v in doc["pins"].items()})
        data = {}
        for key, v in doc.get("data", {}).items():
            app, fid = key.split("/")
            data[(App(app), int(fid, 16))] = unb64(v)
        return cls(
            card_id=doc["card_id"],
            issuing_secret=unb64(doc["issuing_secret"]),
            pin_salt=unb64(doc["pin_salt"]),
            atr=bytes.fromhex(doc["atr"]),
            pins=pins,
            keys={KeyKind(k): unb64(v) for k, v in doc["keys"].items()},
            files={int(k, 16): unb64(v) for k, v in doc["files"].items()},
            data=data,
            manufacture_number=doc.get("manufacture_number") or _manufacture_number(
                doc["card_id"]),
        )


def _manufacture_number(card_id: str | None = None) -> str:
    """The chip's manufacture number (製造番号), read in the 共通AP: 15 characters, ``OJ``
    then 13 digits (random for a new card; for a card made before the field existed, derived
    from its id so that it stays the same)."""
    if card_id is None:
        digits = int.from_bytes(os.urandom(8), "big") % 10 ** 13
    else:
        digits = int.from_bytes(hashlib.sha256(card_id.encode()).digest()[:8], "big") % 10 ** 13
    return f"OJ{digits:013d}"


class StateSaver(Protocol):
    """Makes a state durable; returns only once it is (the card answers after that)."""

    def save(self, state: CardState) -> None: ...


class MemorySaver:
    """Keeps the last saved state in memory (unit tests, fuzzing): ``saved`` is what a
    restart would find."""

    def __init__(self) -> None:
        self.saved: bytes | None = None
        self.count = 0

    def save(self, state: CardState) -> None:
        self.saved = state.to_json()
        self.count += 1

    def load(self) -> CardState:
        if self.saved is None:
            raise LookupError("nothing saved")
        return CardState.from_json(self.saved)


def _state_key(store_key: bytes, card_id: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=b"openjpki card state v1|" + card_id.encode()).derive(store_key)


def seal(store_key: bytes, state: CardState) -> bytes:
    nonce = os.urandom(12)
    aad = _MAGIC + state.card_id.encode()
    return _MAGIC + nonce + AESGCM(_state_key(store_key, state.card_id)).encrypt(
        nonce, state.to_json(), aad)


def unseal(store_key: bytes, card_id: str, blob: bytes) -> CardState:
    if blob[:4] != _MAGIC or len(blob) < 4 + 12 + 16:
        raise ValueError("not a card state file")
    aad = _MAGIC + card_id.encode()
    plain = AESGCM(_state_key(store_key, card_id)).decrypt(blob[4:16], blob[16:], aad)
    state = CardState.from_json(plain)
    if state.card_id != card_id:
        raise ValueError("card state belongs to another card")
    return state


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that a crash at any point leaves either the old or
    the new content, and the new content is on disk when this returns."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class FileSaver:
    """Seals the state and replaces the card's state file atomically (fsync'd)."""

    def __init__(self, path: Path, store_key: bytes) -> None:
        self.path = path
        self._store_key = store_key

    def __repr__(self) -> str:
        return f"FileSaver({str(self.path)!r})"

    def save(self, state: CardState) -> None:
        atomic_write(self.path, seal(self._store_key, state))

    def load(self, card_id: str) -> CardState:
        return unseal(self._store_key, card_id, self.path.read_bytes())
