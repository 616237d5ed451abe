"""The holder-side client (利用者クライアントソフト, R8.1): reads the certificates, shows
the tries left, verifies and changes PINs, and signs — with any card, virtual or real.

It talks only APDUs through a transport (anything with ``transmit(bytes) -> bytes``: a
``PcscTransport`` for a reader, or a ``VirtualCard`` in process) and does what a real card
needs: select the JPKI AP, select each EF, read certificates in 256-byte chunks trimmed to
the DER length, hash on the host and send a SHA-256 DigestInfo with ``80 2A 00 80``.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openjpki.card import apdu as A
from openjpki.card import layout as L
from openjpki.card.pins import MAX_TRIES, KeyKind, pin_form_message

READ_CHUNK = 256
COMMON_AID = bytes.fromhex("D3921000310001010100")  # 共通AP
MAX_OFFSET = 0x7FFF


class Transport(Protocol):
    def transmit(self, apdu: bytes) -> bytes: ...


class CardError(Exception):
    """The card refused or failed; ``sw`` is its status word (None: no answer)."""

    def __init__(self, message: str, sw: int | None = None) -> None:
        super().__init__(message)
        self.sw = sw


class NotJpkiCard(CardError):
    pass


class WrongPin(CardError):
    """R1.4: a wrong PIN uses one try; ``tries_left`` 0 means it is now locked."""

    def __init__(self, kind: KeyKind, tries_left: int) -> None:
        self.kind = KeyKind.of(kind)
        self.tries_left = tries_left
        self.message_ja = (f"暗証番号が違います (残り {tries_left} 回)" if tries_left else
                           "暗証番号が違います。暗証番号はロックされました。市区町村の窓口で"
                           "初期化してください (R1.4, R1.7)")
        self.message_en = (f"wrong {self.kind.value.upper()} PIN: {tries_left} tries left (R1.4)"
                           if tries_left else
                           f"wrong {self.kind.value.upper()} PIN: the PIN is now locked; a PIN "
                           "reset at the municipal counter unlocks it (R1.4, R1.7)")
        super().__init__(self.message_en, A.tries_left_sw(tries_left))


class PinBlocked(CardError):
    """R1.7: a locked PIN is usable again only after a PIN reset (初期化)."""

    def __init__(self, kind: KeyKind) -> None:
        self.kind = KeyKind.of(kind)
        self.message_ja = ("暗証番号はロックされています。市区町村の窓口で初期化してください "
                           "(R1.7)")
        self.message_en = (f"the {self.kind.value.upper()} PIN is locked; a PIN reset at the "
                           "municipal counter unlocks it (R1.7)")
        super().__init__(self.message_en, A.SW_PIN_BLOCKED)


class PinFormRefused(CardError):
    """R1.3: the card refused a new PIN of the wrong form (6A80)."""

    def __init__(self, kind: KeyKind) -> None:
        self.kind = KeyKind.of(kind)
        self.message_ja, self.message_en = pin_form_message(kind)
        super().__init__(self.message_en, A.SW_WRONG_DATA)


def check_sw(sw: int, what: str) -> None:
    if sw != A.SW_OK:
        raise CardError(f"{what}: card answered {sw:04X} ({A.sw_name(sw)})", sw)


class JpkiClient:
    """APDU-level JPKI client over a transport."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def _tx(self, apdu: bytes) -> tuple[bytes, int]:
        rapdu = self.transport.transmit(apdu)
        try:
            return A.split_response(bytes(rapdu))
        except ValueError:
            raise CardError("the card gave no status word") from None

    # --- selection --------------------------------------------------------------------
    def select_jpki(self) -> None:
        """Select the JPKI AP. Selecting it while it is selected keeps the PINs verified in
        it (see ``card.py``); :meth:`logout` forgets them."""
        _, sw = self._tx(A.build(0x00, 0xA4, 0x04, 0x0C, L.AID_JPKI))
        if sw != A.SW_OK:
            raise NotJpkiCard(f"not a My Number Card: the JPKI application is not there "
                              f"(SELECT answered {sw:04X})", sw)

    def logout(self) -> None:
        """Make the card forget every verified PIN: select another application (the 共通AP),
        which leaves the JPKI AP and its security state."""
        self._tx(A.build(0x00, 0xA4, 0x04, 0x0C, COMMON_AID))

    def select_ef(self, fid: int) -> None:
        _, sw = self._tx(A.build(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        check_sw(sw, f"SELECT EF {fid:04X}")

    # --- reading ---------------------------------------------------------------------------
    def read_binary(self, offset: int, length: int = READ_CHUNK) -> tuple[bytes, int]:
        if not 0 <= offset <= MAX_OFFSET:
            raise ValueError("offset is 15 bits")
        return self._tx(A.build(0x00, 0xB0, offset >> 8, offset & 0xFF, le=length))

    def read_der(self, fid: int) -> bytes | None:
        """The DER object in a transparent EF, trimmed by its length; None when the EF holds
        filler only (no certificate)."""
        self.select_ef(fid)
        data, sw = self.read_binary(0)
        if sw == A.SW_SECURITY_NOT_SATISFIED:
            raise CardError(f"EF {fid:04X} needs a PIN verified first", sw)
        check_sw(sw, f"READ BINARY {fid:04X}")
        if not data or data[0] != 0x30:
            return None
        total = L.der_total_length(data)
        if total is None:
            return None
        if total > MAX_OFFSET + 1:
            raise CardError(f"EF {fid:04X} announces a {total}-byte object: too large")
        buf = bytearray(data[:total])
        while len(buf) < total:
            chunk, sw = self.read_binary(len(buf), min(READ_CHUNK, total - len(buf)))
            check_sw(sw, f"READ BINARY {fid:04X} at {len(buf)}")
            if not chunk:
                raise CardError(f"EF {fid:04X} ended inside its DER object")
            buf += chunk
        return bytes(buf[:total])

    def read_certificate(self, kind: KeyKind | str, *, ca: bool = False) -> bytes | None:
        """The DER certificate of ``kind`` (or of its CA). The SIGN certificate needs the SIGN
        PIN verified in this session (``verify_pin``)."""
        kind = KeyKind.of(kind)
        return self.read_der((L.CA_EF if ca else L.CERT_EF)[kind])

    def token_info(self) -> dict:
        self.select_ef(L.EF_TOKEN_INFO)
        data, sw = self.read_binary(0, L.TOKEN_INFO_SIZE)
        check_sw(sw, "READ BINARY token info")
        text = lambda b: b.decode("ascii", "replace").rstrip(" \x00")  # noqa: E731
        return {"label": text(data[0:32]), "manufacturer": text(data[32:64]),
                "model": text(data[64:80]), "serial": text(data[80:96])}

    # --- PINs -------------------------------------------------------------------------------
    def tries_left(self, kind: KeyKind | str) -> int:
        kind = KeyKind.of(kind)
        self.select_ef(L.PIN_EF[kind])
        _, sw = self._tx(A.build(0x00, 0x20, 0x00, 0x80))
        if sw & 0xFFF0 == 0x63C0:
            return sw & 0x0F
        if sw == A.SW_PIN_BLOCKED:
            return 0
        if sw == A.SW_OK:  # some cards answer 9000 when already verified
            return MAX_TRIES[kind]
        raise CardError(f"PIN tries query answered {sw:04X}", sw)

    def verify_pin(self, kind: KeyKind | str, pin: str | bytes) -> None:
        kind = KeyKind.of(kind)
        pin_bytes = pin.encode("ascii") if isinstance(pin, str) else pin
        self.select_ef(L.PIN_EF[kind])
        _, sw = self._tx(A.build(0x00, 0x20, 0x00, 0x80, pin_bytes))
        if sw == A.SW_OK:
            return
        if sw & 0xFFF0 == 0x63C0:
            raise WrongPin(kind, sw & 0x0F)
        if sw == A.SW_PIN_BLOCKED:
            raise PinBlocked(kind)
        raise CardError(f"VERIFY answered {sw:04X} ({A.sw_name(sw)})", sw)

    def change_pin(self, kind: KeyKind | str, old: str | bytes, new: str | bytes) -> None:
        """R1.7: a change needs the current PIN; the card checks the new one's form (R1.3)."""
        kind = KeyKind.of(kind)
        self.verify_pin(kind, old)
        new_bytes = new.encode("ascii", "replace") if isinstance(new, str) else new
        if not new_bytes or len(new_bytes) > 255:
            raise PinFormRefused(kind)
        _, sw = self._tx(A.build(0x00, 0x24, 0x01, 0x80, new_bytes))
        if sw == A.SW_WRONG_DATA:
            raise PinFormRefused(kind)
        if sw == A.SW_PIN_BLOCKED:
            raise PinBlocked(kind)
        check_sw(sw, "CHANGE REFERENCE DATA")

    # --- signing ------------------------------------------------------------------------------
    def sign_digest_info(self, kind: KeyKind | str, digest_info: bytes) -> bytes:
        """``80 2A 00 80``: the card pads the DigestInfo (PKCS#1 v1.5) and signs it. The PIN
        of ``kind`` must be verified in this session."""
        kind = KeyKind.of(kind)
        self.select_ef(L.KEY_EF[kind])
        sig, sw = self._tx(A.build(0x80, 0x2A, 0x00, 0x80, digest_info, le=256))
        if sw == A.SW_SECURITY_NOT_SATISFIED:
            raise CardError(f"the {kind.value.upper()} PIN must be verified before signing", sw)
        check_sw(sw, "SIGN")
        return sig

    def sign(self, kind: KeyKind | str, data: bytes) -> bytes:
        """PKCS#1 v1.5 with SHA-256 of ``data``, hashed here on the host."""
        from openjpki.card.rsaops import digest_info_sha256
        return self.sign_digest_info(kind, digest_info_sha256(hashlib.sha256(data).digest()))


def sign_file_data(transport: Transport, kind: KeyKind | str, pin: str,
                   data: bytes) -> tuple[bytes, bytes]:
    """The whole holder flow for one signature: select the JPKI AP, verify the PIN, read the
    certificate, sign ``data`` (PKCS#1 v1.5, SHA-256) and check the signature with the
    certificate before returning (signature, certificate DER)."""
    kind = KeyKind.of(kind)
    client = JpkiClient(transport)
    client.select_jpki()
    client.verify_pin(kind, pin)
    cert_der = client.read_certificate(kind)
    if cert_der is None:
        raise CardError(f"the card holds no {kind.value.upper()} certificate")
    signature = client.sign(kind, data)
    public_key = x509.load_der_x509_certificate(cert_der).public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise CardError("the certificate does not hold an RSA key")
    try:
        public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except Exception:  # noqa: BLE001
        raise CardError("the card's signature does not verify with its certificate") from None
    return signature, cert_der
