"""The issuing terminal (the counter's side of issuance), talking APDUs to a card.

``IssuingTerminal(transport, issuing_secret)`` works with any transport: a ``VirtualCard``
opened in process, or a ``PcscTransport`` to a card in a reader (virtual or, with the same
commands, a card that implements them). Each operation selects the JPKI application and
authenticates afresh (``issuer.py`` describes the commands), so it does not depend on what
other programs did to the card in between. The private keys stay on the card: the terminal
only ever receives public keys.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from openjpki.card import apdu as A
from openjpki.card import issuer as I
from openjpki.card import layout as L
from openjpki.card import rsaops
from openjpki.card.apps import AIDS, PIN_EF, App
from openjpki.card.client import JpkiClient, Transport
from openjpki.card.pins import KeyKind, PinId, pin_form_message

WRITE_CHUNK = 255
DATA_CHUNK = 4096  # data EFs are written with extended-length WRITEs


class IssuingError(Exception):
    """An issuing command failed; ``sw`` is the card's status word."""

    def __init__(self, message: str, sw: int | None = None) -> None:
        super().__init__(message)
        self.sw = sw


class IssuingTerminal:
    def __init__(self, card_transport: Transport, issuing_secret: bytes) -> None:
        self._client = JpkiClient(card_transport)
        self._secret = bytes(issuing_secret)

    def __repr__(self) -> str:  # never the secret
        return "IssuingTerminal(…)"

    def _tx(self, apdu: bytes) -> tuple[bytes, int]:
        return self._client._tx(apdu)

    def _check(self, sw: int, what: str) -> None:
        if sw != A.SW_OK:
            raise IssuingError(f"{what}: card answered {sw:04X} ({A.sw_name(sw)})", sw)

    def authenticate(self, app: App = App.JPKI) -> None:
        """Select ``app`` (the JPKI AP by default) and prove knowledge of the issuing
        secret."""
        if app is App.JPKI:
            self._client.select_jpki()
        else:
            _, sw = self._tx(A.build(0x00, 0xA4, 0x04, 0x0C, AIDS[app]))
            self._check(sw, f"SELECT {app.ja}")
        challenge, sw = self._tx(A.build(0x80, I.INS_GET_CHALLENGE, 0, 0, le=I.CHALLENGE_SIZE))
        self._check(sw, "GET CHALLENGE")
        _, sw = self._tx(A.build(0x80, I.INS_EXTERNAL_AUTH, 0, 0,
                                 I.issuing_mac(self._secret, challenge)))
        if sw == A.SW_SECURITY_NOT_SATISFIED:
            raise IssuingError("the card refused the issuing secret", sw)
        self._check(sw, "EXTERNAL AUTHENTICATE")

    def _select(self, fid: int, app: App = App.JPKI) -> None:
        self.authenticate(app)
        _, sw = self._tx(A.build(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        self._check(sw, f"SELECT EF {fid:04X}")

    @staticmethod
    def _public_key(modulus: bytes) -> rsa.RSAPublicKey:
        if len(modulus) != rsaops.KEY_BYTES:
            raise IssuingError(f"the card returned a {len(modulus)}-byte modulus")
        return rsa.RSAPublicNumbers(rsaops.PUBLIC_EXPONENT,
                                    int.from_bytes(modulus, "big")).public_key()

    # --- keys -----------------------------------------------------------------------------
    def generate_key(self, kind: KeyKind | str) -> rsa.RSAPublicKey:
        """A new RSA-2048 key pair made on the card in the key EF of ``kind``; returns the
        public key. The certificate of the old key, if any, is erased."""
        self._select(L.KEY_EF[KeyKind.of(kind)])
        modulus, sw = self._tx(A.build(0x80, I.INS_GENERATE, 0x00, 0x00, le=256))
        self._check(sw, "GENERATE KEY PAIR")
        return self._public_key(modulus)

    def public_key(self, kind: KeyKind | str) -> rsa.RSAPublicKey | None:
        self._select(L.KEY_EF[KeyKind.of(kind)])
        modulus, sw = self._tx(A.build(0x80, I.INS_GENERATE, 0x01, 0x00, le=256))
        if sw == A.SW_CONDITIONS_NOT_SATISFIED:
            return None
        self._check(sw, "READ PUBLIC KEY")
        return self._public_key(modulus)

    # --- certificates ---------------------------------------------------------------------
    def _write(self, fid: int, der: bytes) -> None:
        der = _der_bytes(der)
        if len(der) > L.CERT_EF_SIZE:
            raise IssuingError(f"a {len(der)}-byte certificate does not fit the "
                               f"{L.CERT_EF_SIZE}-byte EF")
        self._select(fid)
        for offset in range(0, len(der), WRITE_CHUNK):
            _, sw = self._tx(A.build(0x80, I.INS_WRITE, offset >> 8, offset & 0xFF,
                                     der[offset:offset + WRITE_CHUNK]))
            self._check(sw, f"WRITE EF {fid:04X} at {offset}")
        _, sw = self._tx(A.build(0x80, I.INS_COMMIT, 0, 0))
        if sw == A.SW_WRONG_DATA:
            raise IssuingError(f"EF {fid:04X}: the card refused the certificate (not one "
                               "DER certificate, or not for the card's key)", sw)
        self._check(sw, f"COMMIT EF {fid:04X}")

    def _load(self, app: App, fid: int, data: bytes) -> None:
        if not data:
            raise IssuingError(f"{app.ja} EF {fid:04X}: nothing to write")
        _, sw = self._tx(A.build(0x00, 0xA4, 0x02, 0x0C, fid.to_bytes(2, "big")))
        self._check(sw, f"SELECT {app.ja} EF {fid:04X}")
        for offset in range(0, len(data), DATA_CHUNK):
            _, sw = self._tx(A.build(0x80, I.INS_WRITE, offset >> 8, offset & 0xFF,
                                     data[offset:offset + DATA_CHUNK], extended=True))
            self._check(sw, f"WRITE {app.ja} EF {fid:04X} at {offset}")

    def write_data(self, app: App, fid: int, data: bytes) -> None:
        """Load a data EF of another application (the particulars, their signature)."""
        self.write_files(app, {fid: data})

    def write_files(self, app: App, files: dict[int, bytes],
                    pins: dict[PinId, str] | None = None) -> None:
        """Load data EFs of ``app`` and reset PINs of ``app``, all committed together in one
        durable write."""
        self.authenticate(app)
        for fid, data in files.items():
            self._load(app, fid, data)
        for pid, pin in (pins or {}).items():
            raw = pin.encode("ascii", "replace")
            if not raw or len(raw) > 255 or PIN_EF[pid][0] is not app:
                raise ValueError(" / ".join(pin_form_message(pid)))
            _, sw = self._tx(A.build(0x00, 0xA4, 0x02, 0x0C,
                                     PIN_EF[pid][1].to_bytes(2, "big")))
            self._check(sw, f"SELECT {app.ja} PIN EF")
            _, sw = self._tx(A.build(0x80, I.INS_RESET_PIN, 0x02, 0x80, raw))
            if sw == A.SW_WRONG_DATA:
                raise ValueError(" / ".join(pin_form_message(pid)))
            self._check(sw, "STAGE PIN")
        _, sw = self._tx(A.build(0x80, I.INS_COMMIT, 0x01, 0))
        self._check(sw, f"COMMIT {app.ja}")

    def personalise(self, files: dict[tuple[App, int], bytes],
                    pins: dict[PinId, str]) -> None:
        """Write the particulars' files and set the PINs derived from them (照合番号A/B) or
        chosen with them (R1.6): each application's in one durable write."""
        by_app: dict[App, tuple[dict[int, bytes], dict[PinId, str]]] = {}
        for (app, fid), data in files.items():
            by_app.setdefault(app, ({}, {}))[0][fid] = data
        for pid, pin in pins.items():
            by_app.setdefault(PIN_EF[pid][0], ({}, {}))[1][pid] = pin
        for app, (app_files, app_pins) in by_app.items():
            if app is App.JPKI:  # the JPKI PINs one by one, as ever
                for pid, pin in app_pins.items():
                    self.reset_pin(pid, pin)
                continue
            self.write_files(app, app_files, app_pins)

    def write_certificate(self, kind: KeyKind | str, der: bytes) -> None:
        """Write the holder's certificate of ``kind``; it must certify the card's key."""
        self._write(L.CERT_EF[KeyKind.of(kind)], der)

    def write_ca_certificate(self, kind: KeyKind | str, der: bytes) -> None:
        """Write the certificate of the CA that issued ``kind`` (EF 0002 / 000B)."""
        self._write(L.CA_EF[KeyKind.of(kind)], der)

    def _erase(self, fid: int) -> None:
        self._select(fid)
        _, sw = self._tx(A.build(0x80, I.INS_ERASE, 0, 0))
        self._check(sw, f"ERASE EF {fid:04X}")

    def erase_certificate(self, kind: KeyKind | str) -> None:
        self._erase(L.CERT_EF[KeyKind.of(kind)])

    def erase_key(self, kind: KeyKind | str) -> None:
        """Destroy the key of ``kind`` (and its certificate)."""
        self._erase(L.KEY_EF[KeyKind.of(kind)])

    # --- PINs -----------------------------------------------------------------------------
    def reset_pin(self, kind: PinId | KeyKind | str, new_pin: str | bytes) -> None:
        """初期化 (R1.7): set a new PIN with the full retry count, unblocking it. The card
        refuses a PIN of the wrong form (R1.3) with ValueError carrying both messages."""
        kind = PinId.of(kind)
        pin = new_pin.encode("ascii", "replace") if isinstance(new_pin, str) else bytes(new_pin)
        if not pin or len(pin) > 255:
            raise ValueError(" / ".join(pin_form_message(kind)))
        self._select(PIN_EF[kind][1], PIN_EF[kind][0])
        _, sw = self._tx(A.build(0x80, I.INS_RESET_PIN, 0x00, 0x80, pin))
        if sw == A.SW_WRONG_DATA:
            raise ValueError(" / ".join(pin_form_message(kind)))
        self._check(sw, "RESET PIN")

    def set_tries(self, kind: PinId | KeyKind | str, tries: int) -> None:
        """Set the tries left of the PIN of ``kind`` (0 blocks it, R1.4; the maximum
        unblocks it), keeping the PIN: the state a sandbox or a test needs at once, without
        wrong PINs typed. IssuingError when the card has no such PIN set."""
        kind = PinId.of(kind)
        if not isinstance(tries, int) or not 0 <= tries <= 255:
            raise ValueError("tries must be an integer 0-255")
        self._select(PIN_EF[kind][1], PIN_EF[kind][0])
        _, sw = self._tx(A.build(0x80, I.INS_RESET_PIN, 0x01, 0x80, bytes([tries])))
        if sw == A.SW_WRONG_DATA:
            raise ValueError(f"the {kind.value} PIN allows at most its retry limit (R1.4)")
        if sw == A.SW_CONDITIONS_NOT_SATISFIED:
            raise IssuingError(f"the card has no {kind.value} PIN set", sw)
        self._check(sw, "SET TRIES")

    def wipe(self) -> None:
        """Blank the JPKI application: no keys, certificates or PINs."""
        self.authenticate()
        _, sw = self._tx(A.build(0x80, I.INS_WIPE, 0, 0))
        self._check(sw, "WIPE")


def _der_bytes(cert: bytes | x509.Certificate) -> bytes:
    if isinstance(cert, x509.Certificate):
        from cryptography.hazmat.primitives.serialization import Encoding
        return cert.public_bytes(Encoding.DER)
    return bytes(cert)
