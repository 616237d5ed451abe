"""The card's applications and, for each, its elementary files: what kind each EF is, which
PIN EFs it holds, which PINs a read needs, and the short EF identifiers.

The JPKI AP's certificate, key and PIN EFs are described in ``layout.py``; this table adds
the other applications a My Number Card carries (券面事項入力補助AP, 券面事項確認AP, 住基AP,
共通AP) so that every application answers SELECT, READ BINARY, VERIFY and CHANGE REFERENCE
DATA the same way.

Short EF identifiers: an EF with FID 0001–001E has the SFI equal to its FID (``P1 = 80|SFI``
in READ BINARY, ``P2 = 80|SFI`` in VERIFY and CHANGE REFERENCE DATA), so ``00 B0 8A 00 …``
reads JPKI EF 000A and ``00 20 00 91`` names PIN EF 0011 of the selected application.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from openjpki.card import layout as L
from openjpki.card.pins import KeyKind, PinId


class App(str, Enum):
    JPKI = "jpki"      # 公的個人認証AP
    INPUT = "input"    # 券面事項入力補助AP
    FACE = "face"      # 券面事項確認AP
    JUKI = "juki"      # 住基AP
    COMMON = "common"  # 共通AP

    @property
    def ja(self) -> str:
        return _JA[self]


_JA = {App.JPKI: "公的個人認証AP", App.INPUT: "券面事項入力補助AP", App.FACE: "券面事項確認AP",
       App.JUKI: "住基AP", App.COMMON: "共通AP"}

AIDS = {
    App.JPKI: L.AID_JPKI,
    App.INPUT: bytes.fromhex("D3921000310001010408"),
    App.FACE: bytes.fromhex("D3921000310001010402"),
    App.JUKI: bytes.fromhex("D3921000310001010401"),
    App.COMMON: bytes.fromhex("D3921000310001010100"),
}
APP_OF_AID = {aid: app for app, aid in AIDS.items()}


class EfKind(str, Enum):
    DATA = "data"  # transparent, written by the issuer, read with READ BINARY
    CERT = "cert"  # JPKI certificate EF (DER followed by filler)
    INFO = "info"  # JPKI EF 0006 / 0008, made by the card from its state
    PIN = "pin"
    KEY = "key"


@dataclass(frozen=True, slots=True)
class Ef:
    kind: EfKind
    read_needs: frozenset[PinId] = frozenset()  # any one of them verified; empty: nothing
    pin: PinId | None = None
    key: KeyKind | None = None

    @property
    def readable(self) -> bool:
        return self.kind in (EfKind.DATA, EfKind.CERT, EfKind.INFO)


_INPUT_READ = frozenset({PinId.INPUT, PinId.INPUT_A, PinId.INPUT_B})
_FACE_READ = frozenset({PinId.FACE_A, PinId.FACE_B})
_BIRTH_READ = _FACE_READ | {PinId.FACE_BIRTH}

FILES: dict[App, dict[int, Ef]] = {
    App.JPKI: {
        L.EF_SIGN_CERT: Ef(EfKind.CERT, frozenset({PinId.SIGN})),
        L.EF_SIGN_CA: Ef(EfKind.CERT),
        L.EF_AUTH_CERT: Ef(EfKind.CERT),
        L.EF_AUTH_CA: Ef(EfKind.CERT),
        L.EF_TOKEN_INFO: Ef(EfKind.INFO),
        L.EF_PRESENCE: Ef(EfKind.INFO),
        L.EF_AUTH_KEY: Ef(EfKind.KEY, key=KeyKind.AUTH),
        L.EF_SIGN_KEY: Ef(EfKind.KEY, key=KeyKind.SIGN),
        L.EF_AUTH_PIN: Ef(EfKind.PIN, pin=PinId.AUTH),
        L.EF_SIGN_PIN: Ef(EfKind.PIN, pin=PinId.SIGN),
    },
    App.INPUT: {
        0x0011: Ef(EfKind.PIN, pin=PinId.INPUT),
        0x0014: Ef(EfKind.PIN, pin=PinId.INPUT_A),
        0x0015: Ef(EfKind.PIN, pin=PinId.INPUT_B),
        0x0001: Ef(EfKind.DATA, _INPUT_READ),  # individual number
        0x0002: Ef(EfKind.DATA, _INPUT_READ),  # the four facts
        0x0003: Ef(EfKind.DATA, _INPUT_READ),  # hashes and signature over 0001, 0002
        0x0004: Ef(EfKind.DATA),               # the signer's card-verifiable certificate
        0x0005: Ef(EfKind.DATA),               # AP id and key id
    },
    App.FACE: {
        0x0013: Ef(EfKind.PIN, pin=PinId.FACE_A),
        0x0012: Ef(EfKind.PIN, pin=PinId.FACE_B),
        0x0011: Ef(EfKind.PIN, pin=PinId.FACE_BIRTH),  # [open] the birth date YYMMDD
        0x0001: Ef(EfKind.DATA, _BIRTH_READ),  # birth date, signed
        0x0002: Ef(EfKind.DATA, _FACE_READ),   # the card face
        0x0003: Ef(EfKind.DATA),               # basic information
        0x0005: Ef(EfKind.DATA, frozenset({PinId.FACE_A})),  # individual-number image
    },
    App.JUKI: {
        0x0011: Ef(EfKind.PIN, pin=PinId.CARD),  # [open] FID chosen here
    },
    App.COMMON: {},
}

# Where each PIN lives.
PIN_EF: dict[PinId, tuple[App, int]] = {
    ef.pin: (app, fid) for app, files in FILES.items() for fid, ef in files.items()
    if ef.pin is not None}

# EFs the issuer writes with WRITE/COMMIT: JPKI certificates and the data EFs.
DATA_EF_MAX = 0x7FFF + 1  # READ BINARY offsets are 15 bits

# 共通AP: READ RECORD ``00 B2 01 0C 00`` reads record 1 of SFI 1, the manufacture number.
COMMON_RECORD_SFI = 1


def ef(app: App | None, fid: int | None) -> Ef | None:
    if app is None or fid is None:
        return None
    return FILES[app].get(fid)


def sfi_fid(app: App | None, sfi: int) -> int | None:
    """The FID named by a short EF identifier in ``app``, or None."""
    if app is None or not 1 <= sfi <= 0x1E:
        return None
    return sfi if sfi in FILES[app] else None
