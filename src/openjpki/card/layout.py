"""What is where on the card: applications, the JPKI AP's files, and their fixed contents.

Sizes ([open] in CARD.md, chosen here): every certificate EF is 4096 bytes (0x1000), room
for a JPKI certificate (with the holder's name and address) and headroom; the DER object is
followed by 00 filler up to the end, and readers trim by the DER length. A certificate EF
with no certificate reads as 4096 bytes of 00. EF 0006 is exactly the 160-byte
CK_TOKEN_INFO, EF 0008 exactly 3 bytes.
"""

from __future__ import annotations

import struct

from openjpki.card.pins import KeyKind

# Applications (CARD.md "Applications").
AID_JPKI = bytes.fromhex("D392F000260100000001")  # 公的個人認証AP
OTHER_AIDS = {
    bytes.fromhex("D3921000310001010408"): "券面事項入力補助AP",
    bytes.fromhex("D3921000310001010402"): "券面事項確認AP",
    bytes.fromhex("D3921000310001010401"): "住基AP",
    bytes.fromhex("D3921000310001010100"): "共通AP",
}

# JPKI AP files.
EF_SIGN_CERT = 0x0001
EF_SIGN_CA = 0x0002
EF_TOKEN_INFO = 0x0006
EF_PRESENCE = 0x0008
EF_AUTH_CERT = 0x000A
EF_AUTH_CA = 0x000B
EF_AUTH_KEY = 0x0017
EF_AUTH_PIN = 0x0018
EF_SIGN_KEY = 0x001A
EF_SIGN_PIN = 0x001B

CERT_EF_SIZE = 0x1000
TOKEN_INFO_SIZE = 160
PRESENCE_SIZE = 3
FILLER = 0x00

CERT_EF = {KeyKind.AUTH: EF_AUTH_CERT, KeyKind.SIGN: EF_SIGN_CERT}
CA_EF = {KeyKind.AUTH: EF_AUTH_CA, KeyKind.SIGN: EF_SIGN_CA}
KEY_EF = {KeyKind.AUTH: EF_AUTH_KEY, KeyKind.SIGN: EF_SIGN_KEY}
PIN_EF = {KeyKind.AUTH: EF_AUTH_PIN, KeyKind.SIGN: EF_SIGN_PIN}
CERT_EFS = frozenset(CERT_EF.values()) | frozenset(CA_EF.values())
KEY_EF_KIND = {v: k for k, v in KEY_EF.items()}
PIN_EF_KIND = {v: k for k, v in PIN_EF.items()}
# The key a certificate EF must certify (the card checks it on writing).
CERT_EF_KIND = {v: k for k, v in CERT_EF.items()}
ALL_EFS = CERT_EFS | {EF_TOKEN_INFO, EF_PRESENCE} | set(KEY_EF.values()) | set(PIN_EF.values())

# Which PIN a read needs: EF 0001 needs the SIGN PIN (CARD.md); everything else nothing.
READ_NEEDS = {EF_SIGN_CERT: KeyKind.SIGN}

# ATRs ([open]: chosen here). OpenSC's jpki driver matches OPENSC_ATR by table; with any other
# ATR it sends SELECT of the JPKI AID and takes 9000 as a JPKI card. A card answers with a
# real contact card's ATR by default, so middleware finds it exactly as it finds a real card
# (OpenSC after its probing, by the SELECT); ``card insert --atr opensc`` gives the table one.
REAL_CONTACT_ATR = bytes.fromhex("3BDA13FF8131FB468012392F31C173C601C03B")
REAL_CONTACT_ATR_2 = bytes.fromhex("3BC5FF8131FB458073C6010000")
OPENSC_ATR = bytes.fromhex("3BE000FF8131FE4514")
DEFAULT_ATR = REAL_CONTACT_ATR
ATR_ALIASES = {"real": REAL_CONTACT_ATR, "real2": REAL_CONTACT_ATR_2, "opensc": OPENSC_ATR}

TOKEN_LABEL = b"JPKIAPICCTOKEN2"
CK_UNAVAILABLE = 0xFFFFFFFF
# CKF_RNG | CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED | CKF_TOKEN_INITIALIZED
TOKEN_FLAGS = 0x00000001 | 0x00000004 | 0x00000008 | 0x00000400


def _pad(value: bytes, size: int) -> bytes:
    return value[:size].ljust(size, b" ")


def token_info(serial: str) -> bytes:
    """EF 0006: a PKCS#11 CK_TOKEN_INFO, big-endian, 160 bytes: label[32] manufacturerID[32]
    model[16] serialNumber[16], eleven 4-byte CK_ULONGs (flags, session counts, PIN lengths,
    memory), hardware and firmware versions (2 bytes each) and utcTime[16]. The label is
    ``JPKIAPICCTOKEN2`` space-padded to 32 (CARD.md); the other text fields are ours
    ([open]): manufacturer ``OpenJPKI``, model ``VirtualCard``, serial the card id."""
    ulongs = (TOKEN_FLAGS,
              CK_UNAVAILABLE, CK_UNAVAILABLE,  # max / current sessions
              CK_UNAVAILABLE, CK_UNAVAILABLE,  # max / current R/W sessions
              16, 4,                           # max / min PIN length (R1.3)
              CK_UNAVAILABLE, CK_UNAVAILABLE,  # public memory total / free
              CK_UNAVAILABLE, CK_UNAVAILABLE)  # private memory total / free
    out = (_pad(TOKEN_LABEL, 32) + _pad(b"OpenJPKI", 32) + _pad(b"VirtualCard", 16)
           + _pad(serial.encode("ascii", "replace"), 16)
           + struct.pack(">11I", *ulongs)
           + bytes((1, 0, 1, 0))  # hardware 1.0, firmware 1.0
           + b" " * 16)           # utcTime: no clock on the card
    assert len(out) == TOKEN_INFO_SIZE
    return out


def presence(sign_present: bool, auth_present: bool) -> bytes:
    """EF 0008: byte 0 SIGN, byte 1 AUTH; 8F when that certificate is present, else 00."""
    return bytes((0x8F if sign_present else 0x00, 0x8F if auth_present else 0x00, 0x00))


def der_total_length(header: bytes) -> int | None:
    """Total length (tag, length, value) announced by the DER header at the start of
    ``header``, or None when it is not a definite-length header of at most 3 length bytes."""
    if len(header) < 2:
        return None
    first = header[1]
    if first < 0x80:
        return 2 + first
    n = first & 0x7F
    if n == 0 or n > 3 or len(header) < 2 + n:
        return None
    return 2 + n + int.from_bytes(header[2:2 + n], "big")


def der_length(data: bytes) -> int | None:
    """Total length of the DER object at the start of ``data``, or None when its header is
    not a definite-length DER header or the object does not fit in ``data``."""
    total = der_total_length(data)
    return total if total is not None and total <= len(data) else None
