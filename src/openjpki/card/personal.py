"""The holder's particulars as the card carries them: the files of the 券面事項入力補助AP and
the 券面事項確認AP, signed by the card issuer, and the PIN values derived from them
(照合番号A/B). Built on the issuing side and written to the card by the issuing terminal.

Layouts (CARD.md "The other applications"; the choices CARD.md leaves open are marked):
- 入力補助AP EF 0001: ``FF 10 0C`` + the 12 ASCII digits, padded with 00 to 17 bytes.
- EF 0002: ``FF 20 82 LL LL { DF 21 08 offsets, DF 22 name, DF 23 address, DF 24 birth
  YYYYMMDD, DF 25 sex }``, UTF-8; offsets of the four items from the start of the EF.
- EF 0003 (336 bytes): ``FF 30 82 01 4C { DF 31 SHA-256 of the 0001 TLV, DF 32 SHA-256 of
  0002, DF 33 signature }``. [open] The signature is RSA PKCS#1 v1.5 with SHA-256 over the
  DF 31 and DF 32 TLVs, by the card-issuer key.
- EF 0004 (568 bytes): ``7F 21 { 5F 4E body (297), 5F 37 signature (256) }``; body =
  issuer reference (16) + holder reference (16) + the public key (``82`` exponent, ``81``
  modulus). [open] Self-signed: RSA PKCS#1 v1.5 SHA-256 over the body value by the same key.
- EF 0005: ``FF 40 { DF 41 AP id (4), DF 42 key id (16) }``.
- 確認AP EF 0001: ``FF 10 { DF 11 birth YYYYMMDD, DF 12 public key, DF 13 signature of the
  DF 11 TLV }``.
- EF 0002: ``FF 20 82 LL LL { DF 21 offsets of the nine items, DF 22 birth, DF 23 sex, DF 24
  public key, DF 25 name PNG, DF 26 address PNG, DF 27 face JPEG 2000, DF 28 signature of
  the DF 22–DF 27 TLVs, DF 29 card expiry YYYYMMDD, DF 2A security-code PNG }``.
- EF 0003: ``FF 40 { DF 41 AP id, DF 42 key id }``; EF 0005: ``FF 40 { DF 41 individual-
  number PNG, DF 42 public key, DF 43 signature of the DF 41 TLV }``.
Sex: the register's 1 male, 2 female, 3 unknown become ``1``, ``2``, ``9``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openjpki.card import face
from openjpki.card.apps import App
from openjpki.card.pins import PinId
from openjpki.card.tlv import rsa_public_key, tlv, with_offsets

SEX_ON_CARD = {1: "1", 2: "2", 3: "9"}
AP_ID_INPUT = bytes.fromhex("00010408")
AP_ID_FACE = bytes.fromhex("00010402")
ISSUER_REF = b"OpenJPKI-issuer\x00"


@dataclass(frozen=True)
class CardFacts:
    """What the card face says (and the card's data repeats)."""

    individual_number: str  # 12 digits
    name: str
    address: str
    birth_date: date
    sex: int                # the register's code: 1 male, 2 female, 3 unknown
    card_expiry: date
    security_code: str      # 4 digits, printed on the card

    @property
    def pin_a(self) -> str:
        """照合番号A: the individual number."""
        return self.individual_number

    @property
    def pin_b(self) -> str:
        """照合番号B: birth date YYMMDD, the card's expiry year, the security code."""
        return (f"{self.birth_date:%y%m%d}{self.card_expiry.year:04d}"
                f"{self.security_code}")

    def derived_pins(self) -> dict[PinId, str]:
        return {PinId.INPUT_A: self.pin_a, PinId.FACE_A: self.pin_a,
                PinId.INPUT_B: self.pin_b, PinId.FACE_B: self.pin_b,
                PinId.FACE_BIRTH: f"{self.birth_date:%y%m%d}"}


def _sign(key: rsa.RSAPrivateKey, data: bytes) -> bytes:
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _public(key: rsa.RSAPrivateKey) -> bytes:
    nums = key.public_key().public_numbers()
    return rsa_public_key(nums.n, nums.e)


def key_id(key: rsa.RSAPrivateKey) -> bytes:
    return hashlib.sha256(_public(key)).digest()[:16]


def cv_certificate(key: rsa.RSAPrivateKey) -> bytes:
    """EF 0004: the signer's card-verifiable certificate (568 bytes for RSA-2048)."""
    body = ISSUER_REF + key_id(key) + _public(key)
    return tlv(0x7F21, tlv(0x5F4E, body, long3=True) + tlv(0x5F37, _sign(key, body), long3=True),
               long3=True)


def input_files(f: CardFacts, key: rsa.RSAPrivateKey) -> dict[int, bytes]:
    number = tlv(0xFF10, f.individual_number.encode("ascii"))
    four = with_offsets(0xFF20, 0xDF21, [
        (0xDF22, f.name.encode()), (0xDF23, f.address.encode()),
        (0xDF24, f"{f.birth_date:%Y%m%d}".encode()), (0xDF25, SEX_ON_CARD[f.sex].encode())])
    hashes_ = (tlv(0xDF31, hashlib.sha256(number).digest())
               + tlv(0xDF32, hashlib.sha256(four).digest()))
    integrity = tlv(0xFF30, hashes_ + tlv(0xDF33, _sign(key, hashes_), long3=True),
                    long3=True)
    info = tlv(0xFF40, tlv(0xDF41, AP_ID_INPUT) + tlv(0xDF42, key_id(key)))
    return {0x0001: number.ljust(17, b"\x00"), 0x0002: four, 0x0003: integrity,
            0x0004: cv_certificate(key), 0x0005: info}


def face_files(f: CardFacts, key: rsa.RSAPrivateKey) -> dict[int, bytes]:
    birth = f"{f.birth_date:%Y%m%d}".encode()
    public = _public(key)
    birth_tlv = tlv(0xDF11, birth)
    birth_ef = tlv(0xFF10, birth_tlv + tlv(0xDF12, public)
                   + tlv(0xDF13, _sign(key, birth_tlv)), long3=True)
    signed = [(0xDF22, birth), (0xDF23, SEX_ON_CARD[f.sex].encode()), (0xDF24, public),
              (0xDF25, face.name_png(f.name)), (0xDF26, face.address_png(f.address)),
              (0xDF27, face.face_jp2(f.individual_number))]
    signature = _sign(key, b"".join(tlv(t, v) for t, v in signed))
    items = signed + [(0xDF28, signature), (0xDF29, f"{f.card_expiry:%Y%m%d}".encode()),
                      (0xDF2A, face.security_code_png(f.security_code))]
    number_png = tlv(0xDF41, face.individual_number_png(f.individual_number))
    number_ef = tlv(0xFF40, number_png + tlv(0xDF42, public)
                    + tlv(0xDF43, _sign(key, number_png)), long3=True)
    info = tlv(0xFF40, tlv(0xDF41, AP_ID_FACE) + tlv(0xDF42, key_id(key)))
    return {0x0001: birth_ef, 0x0002: with_offsets(0xFF20, 0xDF21, items), 0x0003: info,
            0x0005: number_ef}


def card_files(f: CardFacts, key: rsa.RSAPrivateKey) -> dict[tuple[App, int], bytes]:
    """Every data EF of both applications for ``f``, signed with ``key``."""
    out = {(App.INPUT, fid): data for fid, data in input_files(f, key).items()}
    out.update({(App.FACE, fid): data for fid, data in face_files(f, key).items()})
    return out
