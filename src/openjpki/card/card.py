"""The virtual My Number Card: its applications answering APDUs (CARD.md).

``VirtualCard.transmit(apdu) -> response`` is the whole interface a reader sees; the vpcd
bridge, the unit tests and an in-process issuing terminal all use it. Every answer is a
well-formed response APDU ending in a status word; nothing a client sends raises.

Command checks run in this order: class (6E00), instruction (6D00), then P1/P2 (6A86) and
lengths (6700), then state (6985 no suitable file selected, 6982 PIN not verified, 6984
blocked). The commands of every application are in ``commands.py``.
Choices where CARD.md leaves the exact answer open:
- SELECT takes P2 0C (no response data) and also P2 00, answered the same way (no FCI);
  other P2 values 6A86. P1 other than 02/04 6A86. Unknown AID or FID 6A82 whatever P2.
- Re-SELECT: selecting the application that is already selected keeps the PINs verified in
  it (a client may select the application again between VERIFY and READ or SIGN, as some
  open clients do); selecting another application, a reset or a power cut forgets every
  verified PIN. Selecting an application always ends an issuing session.
- Standard instructions are class 00 and ours class 80: SELECT with CLA 80 is 6D00, any
  class other than 00 and 80 is 6E00.

PIN anti-tearing (R1.4, R1.7): VERIFY with a PIN first records one try used, durably, then
compares; a correct PIN then restores the full count (a second durable write) and the
answer is sent only after that. Cutting the power (killing the process) at any point after
the command arrived never gives a free try, however the attacker times it.

Issuing commands (class 80) live in ``issuer.py``; they need the issuing terminal's
authentication and are refused 6982 without it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from openjpki.card import apdu as A
from openjpki.card import commands as C
from openjpki.card import layout as L
from openjpki.card import rsaops
from openjpki.card.apps import APP_OF_AID, App, EfKind
from openjpki.card.apps import ef as ef_of
from openjpki.card.issuer import ISSUER_COMMANDS
from openjpki.card.pins import PIN_TRIES, KeyKind, PinId
from openjpki.card.state import CardState, StateSaver

log = logging.getLogger("openjpki.card")


class PowerCut(BaseException):
    """Raised by a test hook to simulate the power failing inside a command."""


@dataclass
class Session:
    """What a card forgets when it loses power (or the application is selected again)."""

    app: App | None = None  # the selected application, or nothing selected
    ef: int | None = None
    verified: set[PinId] = field(default_factory=set)
    issuer: bool = False
    challenge: bytes | None = None
    # Files being loaded by the issuer, by (application, FID), until committed.
    staging: dict[tuple[App, int], bytearray] = field(default_factory=dict)
    staged_pins: dict[PinId, bytes] = field(default_factory=dict)


Result = A.Result
ok = A.ok
err = A.err


class VirtualCard:
    """One card. Not thread-safe: a card answers one command at a time, like a chip."""

    def __init__(self, state: CardState, saver: StateSaver,
                 on_close: Callable[[], None] | None = None) -> None:
        self._state = state
        self._saver = saver
        self._on_close = on_close
        self._keys: dict[KeyKind, tuple[bytes, rsa.RSAPrivateKey]] = {}
        self._closed = False
        self.session = Session()
        # Answer with this ATR instead of the card's own (``card insert --atr``).
        self.atr_override: bytes | None = None
        # Test hook: called after every durable write, before the answer exists.
        self.after_persist: Callable[[], None] | None = None

    # --- identity, power --------------------------------------------------------------
    @property
    def card_id(self) -> str:
        return self._state.card_id

    @property
    def atr(self) -> bytes:
        return self.atr_override or self._state.atr

    def __repr__(self) -> str:
        return f"VirtualCard({self.card_id!r})"

    def __reduce__(self):
        raise TypeError("a card cannot be copied")

    def power_on(self) -> bytes:
        self.session = Session()
        return self.atr

    def power_off(self) -> None:
        self.session = Session()

    def reset(self) -> bytes:
        return self.power_on()

    def close(self) -> None:
        """Put the card away: it releases its store lock and answers nothing more."""
        self._closed = True
        self.power_off()
        self._keys.clear()
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __enter__(self) -> "VirtualCard":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def status(self) -> dict:
        """What anyone holding the card can learn without a PIN (no secrets)."""
        s = self._state
        return {
            "card_id": s.card_id,
            "atr": s.atr.hex().upper(),
            "pins": {k.value: {"set": p.ref is not None, "tries_left": p.tries,
                               "max_tries": PIN_TRIES[k], "blocked": not p.usable}
                     for k, p in s.pins.items()},
            "keys": {k.value: s.keys[k] is not None for k in KeyKind},
            "certificates": {k.value: L.CERT_EF[k] in s.files for k in KeyKind},
            "ca_certificates": {k.value: L.CA_EF[k] in s.files for k in KeyKind},
        }

    # --- the APDU interface -------------------------------------------------------------
    def transmit(self, apdu: bytes) -> bytes:
        """One command APDU in, one response APDU out."""
        if self._closed:
            raise RuntimeError(f"card {self.card_id} is closed")
        try:
            cmd = A.Command.parse(bytes(apdu))
        except A.WrongLength:
            return A.response(A.SW_WRONG_LENGTH)
        try:
            sw, data = self._dispatch(cmd)
        except Exception as e:  # noqa: BLE001 — a card never crashes; no data is logged
            log.error("card %s: internal error in INS %02X: %s", self.card_id, cmd.ins,
                      type(e).__name__)
            return A.response(0x6F00)
        return A.response(sw, data)

    def _dispatch(self, c: A.Command) -> Result:
        if c.cla == 0x00:
            if c.ins == 0xA4:
                return self._select(c)
            command = C.STANDARD.get(c.ins)
        elif c.cla == 0x80:
            if c.ins == 0x2A:
                return self._sign(c)
            command = ISSUER_COMMANDS.get(c.ins)
        else:
            return err(A.SW_CLA_NOT_SUPPORTED)
        if command is None:
            return err(A.SW_INS_NOT_SUPPORTED)
        return command(self, c)

    # --- state helpers (package-internal: card.py and issuer.py only) -------------------
    # The lasting state (``_state``) and the keys never leave through a public attribute:
    # outside this package a card is ``transmit``, power, ``status`` and ``close``.
    def _commit(self, new: CardState) -> None:
        """Make ``new`` the card's state, durably, before anything is answered."""
        self._saver.save(new)
        self._state = new
        if self.after_persist is not None:
            self.after_persist()

    def _private_key(self, kind: KeyKind) -> rsa.RSAPrivateKey | None:
        der = self._state.keys.get(kind)
        if der is None:
            return None
        cached = self._keys.get(kind)
        if cached is None or cached[0] is not der:
            # The key was made on this card and its storage is authenticated (AES-GCM), so
            # OpenSSL's RSA consistency check (~0.1 s per key) would buy nothing.
            key = serialization.load_der_private_key(der, password=None,
                                                     unsafe_skip_rsa_key_validation=True)
            assert isinstance(key, rsa.RSAPrivateKey)
            cached = (der, key)
            self._keys[kind] = cached
        return cached[1]

    def ef_content(self, fid: int, app: App | None = App.JPKI) -> bytes | None:
        """The bytes a READ BINARY sees, or None for a file that is not readable (a key or
        PIN EF, an unknown FID, or a data EF the issuer has not written)."""
        s = self._state
        spec = ef_of(app, fid)
        if spec is None or not spec.readable:
            return None
        if spec.kind is EfKind.CERT:
            der = s.files.get(fid, b"")
            return der + bytes([L.FILLER]) * (L.CERT_EF_SIZE - len(der))
        if fid == L.EF_TOKEN_INFO and app is App.JPKI:
            return L.token_info(s.card_id)
        if fid == L.EF_PRESENCE and app is App.JPKI:
            return L.presence(L.EF_SIGN_CERT in s.files, L.EF_AUTH_CERT in s.files)
        return s.data.get((app, fid))  # type: ignore[arg-type]

    @property
    def in_jpki(self) -> bool:
        return self.session.app is App.JPKI

    # --- SELECT ------------------------------------------------------------------------
    def _select(self, c: A.Command) -> Result:
        if c.p1 == 0x04:
            app = APP_OF_AID.get(c.data)
            if app is None:
                return err(A.SW_NOT_FOUND)
            if c.p2 not in (0x00, 0x0C):
                return err(A.SW_WRONG_P1P2)
            # Re-selecting the selected application keeps its verified PINs; another
            # application starts afresh (see the module docstring). The issuing session
            # ends either way.
            kept = self.session.verified if app is self.session.app else set()
            self.session = Session(app=app, verified=kept)
            return ok()
        if c.p1 == 0x02:
            if len(c.data) != 2:
                return err(A.SW_WRONG_LENGTH)
            fid = int.from_bytes(c.data, "big")
            if ef_of(self.session.app, fid) is None:
                return err(A.SW_NOT_FOUND)
            if c.p2 not in (0x00, 0x0C):
                return err(A.SW_WRONG_P1P2)
            self.session.ef = fid
            return ok()
        return err(A.SW_WRONG_P1P2)

    # --- signing ---------------------------------------------------------------------------
    def _sign(self, c: A.Command) -> Result:
        if c.p2 != 0x80 or c.p1 not in rsaops.MODES:
            return err(A.SW_WRONG_P1P2)
        if c.le not in (None, 256):
            return err(A.SW_WRONG_LENGTH)
        kind = L.KEY_EF_KIND.get(self.session.ef) if self.in_jpki else None  # type: ignore[arg-type]
        if kind is None:
            return err(A.SW_CONDITIONS_NOT_SATISFIED)
        key = self._private_key(kind)
        if key is None:
            return err(A.SW_CONDITIONS_NOT_SATISFIED)
        if PinId.of(kind) not in self.session.verified:
            return err(A.SW_SECURITY_NOT_SATISFIED)
        try:
            return ok(rsaops.sign(key, c.p1, c.data))
        except ValueError:
            return err(A.SW_WRONG_LENGTH)
