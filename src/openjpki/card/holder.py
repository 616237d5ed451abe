"""The holder-side library for the other applications: the tries of every PIN, the four
facts and the individual number (券面事項入力補助AP), the card face (券面事項確認AP), PIN
changes in every application, the manufacture number (共通AP).

Works over any transport, as :class:`~openjpki.card.client.JpkiClient` does, and reads the
way open clients do: SELECT the application, VERIFY by short EF identifier (``00 20 00
80|SFI``), READ BINARY with an extended Le (``00 B0 P1 P2 00 00 00``: the whole EF in one
answer) or, with ``extended=False``, 256-byte short reads trimmed by the TLV length.
"""

from __future__ import annotations

from dataclasses import dataclass

from openjpki.card import apdu as A
from openjpki.card import tlv
from openjpki.card.apps import AIDS, PIN_EF, App
from openjpki.card.client import CardError, JpkiClient, Transport
from openjpki.card.pins import PIN_TRIES, PinId, pin_form_message

SEX_NAMES = {"1": "male", "2": "female", "9": "other"}
SHORT_CHUNK = 256


class WrongCardPin(CardError):
    """A wrong PIN of any application: ``tries_left`` 0 means it is now blocked (R1.4)."""

    def __init__(self, pid: PinId, tries_left: int) -> None:
        self.pin = pid
        self.tries_left = tries_left
        self.message_ja = (f"暗証番号が違います (残り {tries_left} 回)" if tries_left else
                           "暗証番号が違います。暗証番号はロックされました (R1.4)")
        self.message_en = (f"wrong {pid.value} PIN: {tries_left} tries left (R1.4)" if tries_left
                           else f"wrong {pid.value} PIN: the PIN is now locked (R1.4)")
        super().__init__(self.message_en, A.tries_left_sw(tries_left))


class PinLocked(CardError):
    """R1.7: a blocked PIN (6984); only the counter (or the issuer) resets it."""

    def __init__(self, pid: PinId) -> None:
        self.pin = pid
        self.message_ja = "暗証番号はロックされています。市区町村の窓口で初期化してください (R1.7)"
        self.message_en = f"the {pid.value} PIN is locked; the municipal counter resets it (R1.7)"
        super().__init__(self.message_en, A.SW_PIN_BLOCKED)


class NewPinRefused(CardError):
    """R1.3 / R1.6: the card refused a new PIN of the wrong form (6A80)."""

    def __init__(self, pid: PinId) -> None:
        self.pin = pid
        self.message_ja, self.message_en = pin_form_message(pid)
        super().__init__(self.message_en, A.SW_WRONG_DATA)


@dataclass(frozen=True)
class Facts:
    individual_number: str
    name: str
    address: str
    birth_date: str  # YYYYMMDD as the card keeps it
    sex: str         # '1', '2' or '9'

    def to_dict(self) -> dict:
        return {"individual_number": self.individual_number, "name": self.name,
                "address": self.address,
                "birth_date": f"{self.birth_date[:4]}-{self.birth_date[4:6]}-{self.birth_date[6:]}",
                "sex": self.sex, "sex_name": SEX_NAMES.get(self.sex, "unknown")}


class HolderClient:
    def __init__(self, transport: Transport, *, extended: bool = True) -> None:
        self.jpki = JpkiClient(transport)
        self.extended = extended
        self.app: App | None = None

    def _tx(self, apdu: bytes) -> tuple[bytes, int]:
        return self.jpki._tx(apdu)

    def select(self, app: App) -> None:
        _, sw = self._tx(A.build(0x00, 0xA4, 0x04, 0x0C, AIDS[app]))
        if sw != A.SW_OK:
            raise CardError(f"the {app.ja} is not on this card (SELECT answered {sw:04X})", sw)
        self.app = app

    def _ensure(self, app: App) -> None:
        if self.app is not app:
            self.select(app)

    # --- PINs -------------------------------------------------------------------------------
    def tries_left(self, pid: PinId) -> int:
        app, fid = PIN_EF[pid]
        self._ensure(app)
        _, sw = self._tx(A.build(0x00, 0x20, 0x00, 0x80 | fid))
        if sw & 0xFFF0 == 0x63C0:
            return sw & 0x0F
        if sw == A.SW_PIN_BLOCKED:
            return 0
        raise CardError(f"tries query of the {pid.value} PIN answered {sw:04X}", sw)

    def all_tries(self) -> dict[str, dict]:
        out = {}
        for pid in PinId:
            left = self.tries_left(pid)
            out[pid.value] = {"tries_left": left, "max_tries": PIN_TRIES[pid],
                              "blocked": left == 0}
        return out

    def verify(self, pid: PinId, pin: str) -> None:
        app, fid = PIN_EF[pid]
        self._ensure(app)
        raw = pin.encode("ascii", "replace")
        if not raw or len(raw) > 16:
            raise CardError(f"a {pid.value} PIN cannot be {len(raw)} characters long")
        _, sw = self._tx(A.build(0x00, 0x20, 0x00, 0x80 | fid, raw))
        if sw == A.SW_OK:
            return
        if sw & 0xFFF0 == 0x63C0:
            raise WrongCardPin(pid, sw & 0x0F)
        if sw == A.SW_PIN_BLOCKED:
            raise PinLocked(pid)
        raise CardError(f"VERIFY of the {pid.value} PIN answered {sw:04X} ({A.sw_name(sw)})", sw)

    def change_pin(self, pid: PinId, old: str, new: str) -> None:
        """R1.7: verify the current PIN, then CHANGE REFERENCE DATA (the card checks the
        form of the new one, R1.3/R1.6: 6A80)."""
        self.verify(pid, old)
        fid = PIN_EF[pid][1]
        raw = new.encode("ascii", "replace")
        if not raw or len(raw) > 255:
            raise NewPinRefused(pid)
        _, sw = self._tx(A.build(0x00, 0x24, 0x01, 0x80 | fid, raw))
        if sw == A.SW_WRONG_DATA:
            raise NewPinRefused(pid)
        if sw == A.SW_CONDITIONS_NOT_SATISFIED:
            raise CardError(f"the {pid.value} PIN cannot be changed by the holder", sw)
        if sw == A.SW_PIN_BLOCKED:
            raise PinLocked(pid)
        if sw != A.SW_OK:
            raise CardError(f"CHANGE REFERENCE DATA answered {sw:04X} ({A.sw_name(sw)})", sw)

    # --- reading ----------------------------------------------------------------------------
    def read_ef(self, app: App, fid: int) -> bytes:
        """The whole data EF ``fid`` of ``app``, addressed by its short EF identifier."""
        self._ensure(app)
        if self.extended:
            data, sw = self._tx(A.build(0x00, 0xB0, 0x80 | fid, 0x00, le=65536, extended=True))
            self._check_read(sw, app, fid)
            return data
        first, sw = self._tx(A.build(0x00, 0xB0, 0x80 | fid, 0x00, le=SHORT_CHUNK))
        self._check_read(sw, app, fid)
        try:
            total = tlv.total_length(first)
        except (ValueError, IndexError):
            total = len(first)
        buf = bytearray(first)
        while len(buf) < total:
            chunk, sw = self._tx(A.build(0x00, 0xB0, len(buf) >> 8, len(buf) & 0xFF,
                                         le=min(SHORT_CHUNK, total - len(buf))))
            self._check_read(sw, app, fid)
            if not chunk:
                break
            buf += chunk
        return bytes(buf)

    @staticmethod
    def _check_read(sw: int, app: App, fid: int) -> None:
        if sw == A.SW_SECURITY_NOT_SATISFIED:
            raise CardError(f"{app.ja} EF {fid:04X} needs a PIN verified first", sw)
        if sw != A.SW_OK:
            raise CardError(f"READ BINARY {app.ja} EF {fid:04X} answered {sw:04X} "
                            f"({A.sw_name(sw)})", sw)

    def facts(self, pin: str, *, using: PinId = PinId.INPUT) -> Facts:
        """The four facts and the individual number, after the PIN ``using`` (the
        4-digit 券面事項入力補助用暗証番号, or 照合番号A/B)."""
        self.verify(using, pin)
        _, number, _ = tlv.parse(self.read_ef(App.INPUT, 0x0001))
        _, four, _ = tlv.parse(self.read_ef(App.INPUT, 0x0002))
        items = tlv.children(four)
        text = lambda t: items[t].decode("utf-8")  # noqa: E731
        return Facts(number.decode("ascii"), text(0xDF22), text(0xDF23), text(0xDF24),
                     text(0xDF25))

    def face(self, pin: str, *, using: PinId = PinId.FACE_B) -> dict:
        """The card face: images (bytes), birth date, sex and expiry; with 照合番号A also the
        individual-number image."""
        self.verify(using, pin)
        _, value, _ = tlv.parse(self.read_ef(App.FACE, 0x0002))
        items = tlv.children(value)
        out = {"birth_date": items[0xDF22].decode(), "sex": items[0xDF23].decode(),
               "card_expiry": items[0xDF29].decode(), "name_png": items[0xDF25],
               "address_png": items[0xDF26], "photo_jp2": items[0xDF27],
               "security_code_png": items[0xDF2A]}
        if using is PinId.FACE_A:
            _, number, _ = tlv.parse(self.read_ef(App.FACE, 0x0005))
            out["individual_number_png"] = tlv.children(number)[0xDF41]
        return out

    def manufacture_number(self) -> str:
        self._ensure(App.COMMON)
        data, sw = self._tx(bytes.fromhex("00B2010C00"))
        if sw != A.SW_OK:
            raise CardError(f"READ RECORD answered {sw:04X}", sw)
        _, value, _ = tlv.parse(data)
        return value.decode("ascii")
