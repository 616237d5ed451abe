"""The card side of issuance: commands only the issuing terminal (the counter) may use.

Design ([open] in CARD.md). Each card has a random 32-byte issuing secret, made when the card
is created and handed to the issuer only (``CardStore.create``); clients never see it.
The issuing terminal proves it knows the secret by challenge–response, and only then may it
use the other issuing commands, until an application is selected again or the card loses
power. All are class 80 (proprietary), in the selected application (key generation and
certificates in the JPKI AP only; data EFs and PINs in every application):

| APDU | does | answer |
|---|---|---|
| ``80 84 00 00 10`` | GET CHALLENGE: 16 random bytes, good for one try | data + 9000 |
| ``80 82 00 00 20 mac`` | EXTERNAL AUTHENTICATE: mac = HMAC-SHA256(secret, "OpenJPKI issuing v1" ‖ challenge) | 9000; wrong 6982; no challenge 6985 |
| ``80 46 00 00 00`` (key EF selected) | GENERATE a new RSA-2048 key pair on the card; the certificate of that key is erased | modulus (256 bytes, e = 65537) + 9000 |
| ``80 46 01 00 00`` (key EF selected) | read the public key | modulus + 9000; no key 6985 |
| ``80 D6 off off Lc data`` (certificate or data EF selected) | WRITE a chunk of a file being loaded (offset 0 starts anew; chunks are contiguous; short or extended Lc) | 9000; gap 6A86; past the EF 6700 |
| ``80 D8 00 00`` (same EF) | COMMIT the loaded file: a certificate EF takes one DER certificate (in 0001/000A it must certify that key); a data EF takes any non-empty bytes | 9000; not so 6A80; no key 6985 |
| ``80 D8 01 00`` | COMMIT every data EF loaded and every PIN staged in the selected application (not the JPKI AP), in one durable write | 9000; nothing loaded 6985 |
| ``80 0E 00 00`` | ERASE the selected certificate, key (and its certificate), data EF or PIN | 9000 |
| ``80 2C 00 80 Lc PIN`` (PIN EF selected) | RESET the PIN (初期化, R1.7): new PIN, full tries, unblocked | 9000; form 6A80 (R1.3, R1.6) |
| ``80 2C 02 80 Lc PIN`` (PIN EF selected) | STAGE a PIN reset, done by the next ``80 D8 01 00`` | 9000; form 6A80 |
| ``80 2C 01 80 01 n`` (PIN EF selected) | SET TRIES left to n (0 blocks, the maximum unblocks), the PIN unchanged: for sandboxes and test cards | 9000; n too big 6A80; no PIN set 6985 |
| ``80 E6 00 00`` | WIPE the selected application: no keys, certificates, data or PINs in it | 9000 |

Without a successful EXTERNAL AUTHENTICATE every command but the first two answers 6982,
before any other check, so a client learns nothing from them. The secret is 256 bits, so
guessing it online is hopeless; failed attempts are not counted (a count would let anyone
with the card in a reader lock out its issuer).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import TYPE_CHECKING, Callable

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from openjpki.card import apdu as A
from openjpki.card import layout as L
from openjpki.card import rsaops
from openjpki.card.apps import DATA_EF_MAX, FILES, PIN_EF, App, EfKind, ef
from openjpki.card.pins import PIN_TRIES, KeyKind, PinId, pin_form_ok
from openjpki.card.state import PinRecord

if TYPE_CHECKING:
    from openjpki.card.card import VirtualCard

MAC_LABEL = b"OpenJPKI issuing v1"
CHALLENGE_SIZE = 16

INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTH = 0x82
INS_GENERATE = 0x46
INS_WRITE = 0xD6
INS_COMMIT = 0xD8
INS_ERASE = 0x0E
INS_RESET_PIN = 0x2C
INS_WIPE = 0xE6


def issuing_mac(secret: bytes, challenge: bytes) -> bytes:
    return hmac.new(secret, MAC_LABEL + challenge, hashlib.sha256).digest()


def _get_challenge(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1p2 != 0:
        return A.err(A.SW_WRONG_P1P2)
    if c.data or c.le not in (CHALLENGE_SIZE, 256):
        return A.err(A.SW_WRONG_LENGTH)
    if card.session.app is None:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    card.session.challenge = os.urandom(CHALLENGE_SIZE)
    card.session.issuer = False
    return A.ok(card.session.challenge)


def _external_auth(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1p2 != 0:
        return A.err(A.SW_WRONG_P1P2)
    if len(c.data) != 32:
        return A.err(A.SW_WRONG_LENGTH)
    challenge, card.session.challenge = card.session.challenge, None  # one try per challenge
    if card.session.app is None or challenge is None:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    if not hmac.compare_digest(c.data, issuing_mac(card._state.issuing_secret, challenge)):
        card.session.issuer = False
        return A.err(A.SW_SECURITY_NOT_SATISFIED)
    card.session.issuer = True
    return A.ok()


def _modulus(card: "VirtualCard", kind: KeyKind) -> bytes:
    key = card._private_key(kind)
    assert key is not None
    return key.public_key().public_numbers().n.to_bytes(rsaops.KEY_BYTES, "big")


def _generate(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1 not in (0x00, 0x01) or c.p2 != 0x00:
        return A.err(A.SW_WRONG_P1P2)
    if c.data:
        return A.err(A.SW_WRONG_LENGTH)
    kind = L.KEY_EF_KIND.get(card.session.ef) if card.in_jpki else None  # type: ignore[arg-type]
    if kind is None:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    if c.p1 == 0x01:
        if card._state.keys[kind] is None:
            return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
        return A.ok(_modulus(card, kind))
    key = rsaops.generate_key()
    new = card._state.clone()
    new.keys[kind] = key.private_bytes(serialization.Encoding.DER,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
    new.files.pop(L.CERT_EF[kind], None)  # the old certificate no longer fits the key
    del key
    card._commit(new)
    return A.ok(_modulus(card, kind))


def _loadable(card: "VirtualCard") -> int | None:
    """The size limit of the selected EF when the issuer may load it, else None."""
    spec = ef(card.session.app, card.session.ef)
    if spec is None:
        return None
    return {EfKind.CERT: L.CERT_EF_SIZE, EfKind.DATA: DATA_EF_MAX}.get(spec.kind)


def _write(card: "VirtualCard", c: A.Command) -> A.Result:
    fid = card.session.ef
    limit = _loadable(card)
    if limit is None:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    if not c.data:
        return A.err(A.SW_WRONG_LENGTH)
    if c.p1 & 0x80:
        return A.err(A.SW_WRONG_P1P2)
    offset = c.p1p2
    key = (card.session.app, fid)
    if offset == 0:
        card.session.staging[key] = bytearray()  # type: ignore[index]
    buf = card.session.staging.get(key)  # type: ignore[arg-type]
    if buf is None or len(buf) != offset:
        return A.err(A.SW_WRONG_P1P2)
    if offset + len(c.data) > limit:
        return A.err(A.SW_WRONG_LENGTH)
    buf.extend(c.data)
    return A.ok()


def _commit_all(card: "VirtualCard") -> A.Result:
    """``80 D8 01 00``: every data EF loaded and every PIN staged in this application, in
    one durable write (the particulars change as a whole)."""
    app = card.session.app
    if app is App.JPKI:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)  # certificates are checked one by one
    loaded = {k: bytes(v) for k, v in card.session.staging.items() if k[0] is app and v}
    pins = {pid: pin for pid, pin in card.session.staged_pins.items()
            if PIN_EF[pid][0] is app}
    if not loaded and not pins:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    for k in loaded:
        del card.session.staging[k]
    new = card._state.clone()
    new.data.update(loaded)
    for pid, pin in pins.items():
        del card.session.staged_pins[pid]
        new.set_pin(pid, pin)
        card.session.verified.discard(pid)
    card._commit(new)
    return A.ok()


def _commit_certificate(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1p2 not in (0x0000, 0x0100):
        return A.err(A.SW_WRONG_P1P2)
    if c.data:
        return A.err(A.SW_WRONG_LENGTH)
    if c.p1 == 0x01:
        return _commit_all(card)
    fid = card.session.ef
    staged = card.session.staging.get((card.session.app, fid))  # type: ignore[arg-type]
    if _loadable(card) is None or staged is None:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    der = bytes(staged)
    del card.session.staging[(card.session.app, fid)]  # type: ignore[arg-type]
    if not card.in_jpki:  # a data EF of another application: the bytes as loaded
        new = card._state.clone()
        new.data[(card.session.app, fid)] = der  # type: ignore[index]
        card._commit(new)
        return A.ok()
    if L.der_length(der) != len(der):
        return A.err(A.SW_WRONG_DATA)
    try:
        cert = x509.load_der_x509_certificate(der)
        cert_key = cert.public_key()
    except Exception:  # noqa: BLE001 — any unparsable certificate is wrong data
        return A.err(A.SW_WRONG_DATA)
    kind = L.CERT_EF_KIND.get(fid)  # type: ignore[arg-type]
    if kind is not None:  # a holder's certificate must certify the card's own key
        key = card._private_key(kind)
        if key is None:
            return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
        try:
            same = cert_key.public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
        except AttributeError:
            same = False
        if not same:
            return A.err(A.SW_WRONG_DATA)
    new = card._state.clone()
    new.files[fid] = der
    card._commit(new)
    return A.ok()


def _erase(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1p2 != 0:
        return A.err(A.SW_WRONG_P1P2)
    if c.data:
        return A.err(A.SW_WRONG_LENGTH)
    app, fid = card.session.app, card.session.ef
    spec = ef(app, fid)
    new = card._state.clone()
    if spec is None or spec.kind is EfKind.INFO:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    if spec.kind is EfKind.CERT:
        new.files.pop(fid, None)  # type: ignore[arg-type]
    elif spec.kind is EfKind.DATA:
        new.data.pop((app, fid), None)  # type: ignore[arg-type]
    elif spec.key is not None:
        new.keys[spec.key] = None
        new.files.pop(L.CERT_EF[spec.key], None)
    elif spec.pin is not None:
        new.pins[spec.pin] = PinRecord(None, 0)
        card.session.verified.discard(spec.pin)
    card._commit(new)
    return A.ok()


def _reset_pin(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1 not in (0x00, 0x01, 0x02) or c.p2 != 0x80:
        return A.err(A.SW_WRONG_P1P2)
    spec = ef(card.session.app, card.session.ef)
    kind = spec.pin if spec is not None else None
    if kind is None:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    if not c.data:
        return A.err(A.SW_WRONG_LENGTH)
    if c.p1 == 0x01:
        return _set_tries(card, kind, c.data)
    if not pin_form_ok(kind, c.data):  # R1.3
        return A.err(A.SW_WRONG_DATA)
    if c.p1 == 0x02:  # staged: set by the next COMMIT of every loaded file (80 D8 01 00)
        card.session.staged_pins[kind] = bytes(c.data)
        return A.ok()
    new = card._state.clone()
    new.set_pin(kind, c.data)  # R1.7: 初期化 — new PIN, full count, unblocked
    card._commit(new)
    card.session.verified.discard(kind)
    return A.ok()


def _set_tries(card: "VirtualCard", kind: PinId, data: bytes) -> A.Result:
    """SET TRIES: the PIN's tries left become ``data[0]`` (0 blocks it, R1.4), the PIN
    itself unchanged."""
    if len(data) != 1:
        return A.err(A.SW_WRONG_LENGTH)
    if data[0] > PIN_TRIES[kind]:
        return A.err(A.SW_WRONG_DATA)
    if card._state.pins[kind].ref is None:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    new = card._state.clone()
    new.pins[kind].tries = data[0]
    card._commit(new)
    card.session.verified.discard(kind)
    return A.ok()


def _wipe(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1p2 != 0:
        return A.err(A.SW_WRONG_P1P2)
    if c.data:
        return A.err(A.SW_WRONG_LENGTH)
    app = card.session.app
    new = card._state.clone()
    if app is App.JPKI:
        new.keys = {k: None for k in KeyKind}
        new.files = {}
    new.data = {k: v for k, v in new.data.items() if k[0] is not app}
    for spec in FILES[app].values():  # type: ignore[index]
        if spec.pin is not None:
            new.pins[spec.pin] = PinRecord(None, 0)
    card._commit(new)
    card.session.verified.clear()
    card.session.staging.clear()
    card.session.staged_pins.clear()
    return A.ok()


def _needs_issuer(handler: Callable[["VirtualCard", A.Command], A.Result]):
    def guarded(card: "VirtualCard", c: A.Command) -> A.Result:
        if not (card.session.app is not None and card.session.issuer):
            return A.err(A.SW_SECURITY_NOT_SATISFIED)
        return handler(card, c)
    return guarded


ISSUER_COMMANDS: dict[int, Callable[["VirtualCard", A.Command], A.Result]] = {
    INS_GET_CHALLENGE: _get_challenge,
    INS_EXTERNAL_AUTH: _external_auth,
    INS_GENERATE: _needs_issuer(_generate),
    INS_WRITE: _needs_issuer(_write),
    INS_COMMIT: _needs_issuer(_commit_certificate),
    INS_ERASE: _needs_issuer(_erase),
    INS_RESET_PIN: _needs_issuer(_reset_pin),
    INS_WIPE: _needs_issuer(_wipe),
}
