"""The virtual My Number Card: the JPKI application answering APDUs (CARD.md).

``VirtualCard.transmit(apdu) -> response`` is the whole interface a reader sees; the vpcd
bridge, the unit tests and an in-process issuing terminal all use it. Every answer is a
well-formed response APDU ending in a status word; nothing a client sends raises.

Command checks run in this order: class (6E00), instruction (6D00), then P1/P2 (6A86) and
lengths (6700), then state (6985 no suitable file selected, 6982 PIN not verified, 6984
blocked).
Choices where CARD.md leaves the exact answer open:
- SELECT takes P2 0C (no response data) and also P2 00, answered the same way (no FCI);
  other P2 values 6A86. P1 other than 02/04 6A86. Unknown AID or FID 6A82 whatever P2.
  The four other applications answer SELECT 9000 and hold no files (SELECT FID 6A82).
- READ BINARY: no Le (case 1/3) 6700; P1 bit 8 (short EF id) 6A86; no file selected, or a
  key or PIN EF selected, 6985.
- VERIFY / CHANGE with no PIN EF selected 6985; a PIN longer than 16 bytes 6700 (it cannot
  be right and costs no try); CHANGE without data 6700.
- Sign: Le must be absent or 00; no key EF selected or no key in it 6985.
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
from openjpki.card import layout as L
from openjpki.card import rsaops
from openjpki.card.issuer import ISSUER_COMMANDS
from openjpki.card.pins import MAX_TRIES, KeyKind, pin_form_ok
from openjpki.card.state import CardState, StateSaver

log = logging.getLogger("openjpki.card")

JPKI = "jpki"


class PowerCut(BaseException):
    """Raised by a test hook to simulate the power failing inside a command."""


@dataclass
class Session:
    """What a card forgets when it loses power (or the application is selected again)."""

    app: str | bytes | None = None  # JPKI, another AID, or nothing selected
    ef: int | None = None
    verified: set[KeyKind] = field(default_factory=set)
    issuer: bool = False
    challenge: bytes | None = None
    staging: tuple[int, bytearray] | None = None


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
                               "max_tries": MAX_TRIES[k], "blocked": not p.usable}
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
            handler = {0xA4: self._select, 0xB0: self._read_binary, 0x20: self._verify,
                       0x24: self._change_pin}.get(c.ins)
        elif c.cla == 0x80:
            if c.ins == 0x2A:
                handler = self._sign
            else:
                issuing = ISSUER_COMMANDS.get(c.ins)
                if issuing is not None:
                    return issuing(self, c)
                handler = None
        else:
            return err(A.SW_CLA_NOT_SUPPORTED)
        if handler is None:
            return err(A.SW_INS_NOT_SUPPORTED)
        return handler(c)

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

    def ef_content(self, fid: int) -> bytes | None:
        """The bytes a READ BINARY sees, or None for a file that is not readable."""
        s = self._state
        if fid in L.CERT_EFS:
            der = s.files.get(fid, b"")
            return der + bytes([L.FILLER]) * (L.CERT_EF_SIZE - len(der))
        if fid == L.EF_TOKEN_INFO:
            return L.token_info(s.card_id)
        if fid == L.EF_PRESENCE:
            return L.presence(L.EF_SIGN_CERT in s.files, L.EF_AUTH_CERT in s.files)
        return None

    @property
    def in_jpki(self) -> bool:
        return self.session.app == JPKI

    # --- SELECT ------------------------------------------------------------------------
    def _select(self, c: A.Command) -> Result:
        if c.p1 == 0x04:
            if c.data == L.AID_JPKI:
                app: str | bytes = JPKI
            elif c.data in L.OTHER_AIDS:
                app = c.data
            else:
                return err(A.SW_NOT_FOUND)
            if c.p2 not in (0x00, 0x0C):
                return err(A.SW_WRONG_P1P2)
            # Selecting an application (again) forgets verified PINs: how OpenSC logs out.
            self.session = Session(app=app)
            return ok()
        if c.p1 == 0x02:
            if len(c.data) != 2:
                return err(A.SW_WRONG_LENGTH)
            fid = int.from_bytes(c.data, "big")
            if not self.in_jpki or fid not in L.ALL_EFS:
                return err(A.SW_NOT_FOUND)
            if c.p2 not in (0x00, 0x0C):
                return err(A.SW_WRONG_P1P2)
            self.session.ef = fid
            return ok()
        return err(A.SW_WRONG_P1P2)

    # --- READ BINARY ---------------------------------------------------------------------
    def _read_binary(self, c: A.Command) -> Result:
        if c.data or c.le is None:
            return err(A.SW_WRONG_LENGTH)
        if c.p1 & 0x80:
            return err(A.SW_WRONG_P1P2)
        fid = self.session.ef
        content = self.ef_content(fid) if (self.in_jpki and fid is not None) else None
        if content is None:
            return err(A.SW_CONDITIONS_NOT_SATISFIED)
        need = L.READ_NEEDS.get(fid)
        if need is not None and need not in self.session.verified:
            return err(A.SW_SECURITY_NOT_SATISFIED)
        offset = c.p1p2
        if offset >= len(content):
            return err(A.SW_OFFSET_PAST_END)
        return ok(content[offset:offset + c.le])

    # --- PINs ------------------------------------------------------------------------------
    def _selected_pin(self) -> KeyKind | None:
        if not self.in_jpki:
            return None
        return L.PIN_EF_KIND.get(self.session.ef)  # type: ignore[arg-type]

    def _verify(self, c: A.Command) -> Result:
        if c.p1 != 0x00 or c.p2 != 0x80:
            return err(A.SW_WRONG_P1P2)
        kind = self._selected_pin()
        if kind is None:
            return err(A.SW_CONDITIONS_NOT_SATISFIED)
        record = self._state.pins[kind]
        if not c.data:  # tries query: always 63Cx, 63C0 when blocked (OpenSC needs SW1 63)
            return err(A.tries_left_sw(record.tries if record.usable else 0))
        if len(c.data) > 16:
            return err(A.SW_WRONG_LENGTH)
        if not record.usable:
            return err(A.SW_PIN_BLOCKED)
        # Anti-tearing: the try is used (durably) before the PIN is even compared.
        used = self._state.clone()
        used.pins[kind].tries -= 1
        self._commit(used)
        if self._state.pin_matches(kind, c.data):
            restored = self._state.clone()
            restored.pins[kind].tries = MAX_TRIES[kind]  # R1.7: a correct PIN resets the count
            self._commit(restored)
            self.session.verified.add(kind)
            return ok()
        self.session.verified.discard(kind)
        return err(A.tries_left_sw(self._state.pins[kind].tries))

    def _change_pin(self, c: A.Command) -> Result:
        if c.p1 != 0x01 or c.p2 != 0x80:
            return err(A.SW_WRONG_P1P2)
        kind = self._selected_pin()
        if kind is None:
            return err(A.SW_CONDITIONS_NOT_SATISFIED)
        if not c.data:
            return err(A.SW_WRONG_LENGTH)
        if not self._state.pins[kind].usable:
            return err(A.SW_PIN_BLOCKED)
        if kind not in self.session.verified:  # R1.7: a change needs the current PIN
            return err(A.SW_SECURITY_NOT_SATISFIED)
        if not pin_form_ok(kind, c.data):  # R1.3, checked by the card itself
            return err(A.SW_WRONG_DATA)
        new = self._state.clone()
        new.set_pin(kind, c.data)
        self._commit(new)
        return ok()

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
        if kind not in self.session.verified:
            return err(A.SW_SECURITY_NOT_SATISFIED)
        try:
            return ok(rsaops.sign(key, c.p1, c.data))
        except ValueError:
            return err(A.SW_WRONG_LENGTH)
