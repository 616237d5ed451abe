"""The standard (class 00) commands every application answers: READ BINARY, VERIFY, CHANGE
REFERENCE DATA, GET CHALLENGE and READ RECORD (SELECT is in ``card.py``).

Addressing (CARD.md "Addressing that open clients use"):
- READ BINARY ``00 B0 P1 P2 Le``: P1 bit 8 clear, P1P2 = a 15-bit offset into the selected
  EF; P1 = ``80 | SFI`` (bits 6–7 clear) reads the EF with that short identifier at offset
  P2 and makes it the selected EF. Le short (00 = 256) or extended (``00 HH LL``, 0000 =
  65536): the answer is as long as Le asks, or what is left of the EF.
- VERIFY / CHANGE REFERENCE DATA: P2 = ``80`` names the selected PIN EF, ``80 | SFI`` the
  PIN EF with that short identifier in the selected application.

Answers where CARD.md leaves them open:
- READ BINARY with data 6700, without Le 6700; an SFI with bits 6–7 set 6A86; an SFI that
  names no EF of the application 6A82; no EF selected, a key or PIN EF, or a data EF the
  issuer has not written 6985.
- VERIFY / CHANGE with no PIN EF named 6985 (an SFI naming no EF 6A82); a PIN longer than
  16 bytes 6700 (it cannot be right and costs no try); CHANGE without data 6700; CHANGE of
  照合番号A/B (the card's printed data, not a holder's PIN) 6985; CHANGE with P1 other than
  01 6A86.
- GET CHALLENGE: P1P2 other than 0000 6A86; data, or Le missing or over 256, 6700.
- READ RECORD: only in the 共通AP, only record 1 of SFI 1 (``00 B2 01 0C``); elsewhere, or
  another record, 6A82; P2 not of the form ``SFI<<3 | 4`` 6A86.

PIN anti-tearing (R1.4, R1.7): VERIFY with a PIN first records one try used, durably, then
compares; a correct PIN then restores the full count (a second durable write) and the
answer is sent only after that.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable

from openjpki.card import apdu as A
from openjpki.card.apps import COMMON_RECORD_SFI, App, EfKind, ef, sfi_fid
from openjpki.card.pins import PIN_TRIES, PinId, pin_form_ok

if TYPE_CHECKING:
    from openjpki.card.card import VirtualCard

MAX_PIN_BYTES = 16
MAX_CHALLENGE = 256


def manufacture_record(number: str) -> bytes:
    """Record 1 of SFI 1 in the 共通AP: the manufacture number as a BER OCTET STRING
    (``04 LL`` + ASCII). [open] The wrapping is chosen here."""
    raw = number.encode("ascii")
    return bytes((0x04, len(raw))) + raw


def read_binary(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.data or c.le is None:
        return A.err(A.SW_WRONG_LENGTH)
    app = card.session.app
    if c.p1 & 0x80:
        if c.p1 & 0x60:
            return A.err(A.SW_WRONG_P1P2)
        fid = sfi_fid(app, c.p1 & 0x1F)
        if fid is None:
            return A.err(A.SW_NOT_FOUND)
        card.session.ef = fid
        offset = c.p2
    else:
        fid, offset = card.session.ef, c.p1p2
    content = card.ef_content(fid, app) if fid is not None else None
    if content is None:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    need = ef(app, fid).read_needs  # type: ignore[union-attr]
    if need and not need & card.session.verified:
        return A.err(A.SW_SECURITY_NOT_SATISFIED)
    if offset >= len(content):
        return A.err(A.SW_OFFSET_PAST_END)
    return A.ok(content[offset:offset + c.le])


def _named_pin(card: "VirtualCard", p2: int) -> PinId | int:
    """The PIN named by P2 (``80``: selected EF; ``80|SFI``), or the SW to answer."""
    app = card.session.app
    if p2 == 0x80:
        fid = card.session.ef
    elif p2 & 0x80 and not p2 & 0x60:
        fid = sfi_fid(app, p2 & 0x1F)
        if fid is None:
            return A.SW_NOT_FOUND
    else:
        return A.SW_WRONG_P1P2
    spec = ef(app, fid)
    if spec is None or spec.kind is not EfKind.PIN or spec.pin is None:
        return A.SW_CONDITIONS_NOT_SATISFIED
    return spec.pin


def verify(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1 != 0x00:
        return A.err(A.SW_WRONG_P1P2)
    pid = _named_pin(card, c.p2)
    if isinstance(pid, int):
        return A.err(pid)
    record = card._state.pins[pid]
    if not c.data:  # tries query: always 63Cx, 63C0 when blocked (OpenSC needs SW1 63)
        return A.err(A.tries_left_sw(record.tries if record.usable else 0))
    if len(c.data) > MAX_PIN_BYTES:
        return A.err(A.SW_WRONG_LENGTH)
    return try_pin(card, pid, c.data)


def try_pin(card: "VirtualCard", pid: PinId, pin: bytes) -> A.Result:
    """One counted try (R1.4): the try is used durably before the PIN is even compared; a
    correct PIN restores the full count (R1.7) before the answer exists."""
    if not card._state.pins[pid].usable:
        return A.err(A.SW_PIN_BLOCKED)
    used = card._state.clone()
    used.pins[pid].tries -= 1
    card._commit(used)
    if card._state.pin_matches(pid, pin):
        restored = card._state.clone()
        restored.pins[pid].tries = PIN_TRIES[pid]
        card._commit(restored)
        card.session.verified.add(pid)
        return A.ok()
    card.session.verified.discard(pid)
    return A.err(A.tries_left_sw(card._state.pins[pid].tries))


def change_reference_data(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p1 != 0x01:
        return A.err(A.SW_WRONG_P1P2)
    pid = _named_pin(card, c.p2)
    if isinstance(pid, int):
        return A.err(pid)
    if not c.data:
        return A.err(A.SW_WRONG_LENGTH)
    if not pid.holder_chosen:
        return A.err(A.SW_CONDITIONS_NOT_SATISFIED)
    if not card._state.pins[pid].usable:
        return A.err(A.SW_PIN_BLOCKED)
    if pid not in card.session.verified:  # R1.7: a change needs the current PIN
        return A.err(A.SW_SECURITY_NOT_SATISFIED)
    if not pin_form_ok(pid, c.data):  # R1.3, checked by the card itself
        return A.err(A.SW_WRONG_DATA)
    new = card._state.clone()
    new.set_pin(pid, c.data)
    card._commit(new)
    return A.ok()


def get_challenge(card: "VirtualCard", c: A.Command) -> A.Result:
    """``00 84 00 00 Le``: Le random bytes (PKCS#11 C_GenerateRandom; CKF_RNG is set in
    the token info). Needs no application and changes nothing the card keeps."""
    if c.p1p2 != 0:
        return A.err(A.SW_WRONG_P1P2)
    if c.data or c.le is None or c.le > MAX_CHALLENGE:
        return A.err(A.SW_WRONG_LENGTH)
    return A.ok(os.urandom(c.le))


def read_record(card: "VirtualCard", c: A.Command) -> A.Result:
    if c.p2 & 0x07 != 0x04:
        return A.err(A.SW_WRONG_P1P2)
    if c.data or c.le is None:
        return A.err(A.SW_WRONG_LENGTH)
    if (card.session.app is not App.COMMON or c.p2 >> 3 != COMMON_RECORD_SFI
            or c.p1 != 0x01):
        return A.err(A.SW_NOT_FOUND)
    return A.ok(manufacture_record(card._state.manufacture_number)[:c.le])


STANDARD: dict[int, Callable[["VirtualCard", A.Command], A.Result]] = {
    0xB0: read_binary, 0x20: verify, 0x24: change_reference_data, 0x84: get_challenge,
    0xB2: read_record,
}
