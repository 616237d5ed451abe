"""PC/SC access with pyscard: the readers, and a transport to the card in one of them.

The transport copes with what real cards and readers do and the virtual card never needs:
``61xx`` (more data: GET RESPONSE) and ``6Cxx`` (wrong Le: resend with the right one).
"""

from __future__ import annotations

from dataclasses import dataclass


class PcscError(Exception):
    """No PC/SC service, no reader, or no card: a one-line message for the user."""


class NoReader(PcscError):
    pass


class NoCard(PcscError):
    pass


@dataclass(frozen=True)
class ReaderInfo:
    index: int
    name: str
    card_present: bool
    atr: bytes | None


def _readers():
    try:
        from smartcard.System import readers
        from smartcard.pcsc.PCSCExceptions import EstablishContextException
    except ImportError as e:  # pragma: no cover - pyscard is a dependency
        raise PcscError(f"pyscard is not installed ({e})") from None
    try:
        return list(readers())
    except EstablishContextException:
        raise NoReader("the PC/SC service (pcscd) is not running") from None
    except Exception as e:  # noqa: BLE001
        raise NoReader(f"PC/SC error listing readers: {e}") from None


def list_readers() -> list[ReaderInfo]:
    """Every reader, with whether a card is in it and its ATR."""
    out = []
    for i, reader in enumerate(_readers()):
        atr = None
        conn = reader.createConnection()
        try:
            conn.connect()
            atr = bytes(conn.getATR())
        except Exception:  # noqa: BLE001 — no card, or a card we cannot power
            atr = None
        finally:
            try:
                conn.disconnect()
            except Exception:  # noqa: BLE001
                pass
        out.append(ReaderInfo(i, str(reader), atr is not None, atr))
    return out


class PcscTransport:
    """``transmit(apdu) -> response`` to the card in a reader.

    ``reader``: a reader name (or a unique part of one), an index, or None for the first
    reader that holds a card. ``exclusive``: keep other programs off the card until
    ``close()`` (for issuance)."""

    def __init__(self, reader: str | int | None = None, *, exclusive: bool = False) -> None:
        from smartcard.Exceptions import CardConnectionException, NoCardException
        from smartcard.scard import SCARD_SHARE_EXCLUSIVE, SCARD_SHARE_SHARED

        readers = _readers()
        if not readers:
            raise NoReader("no smart-card reader found")
        mode = SCARD_SHARE_EXCLUSIVE if exclusive else SCARD_SHARE_SHARED
        candidates = self._pick(readers, reader)
        last_error = None
        for r in candidates:
            conn = r.createConnection()
            try:
                conn.connect(mode=mode)
            except (NoCardException, CardConnectionException) as e:
                last_error = e
                continue
            self.reader_name = str(r)
            self._conn = conn
            return
        if reader is None:
            raise NoCard("no card in any reader (insert a card, or name a reader with "
                         "--reader)")
        raise NoCard(f"no card in reader {candidates[0]} ({last_error})")

    @staticmethod
    def _pick(readers: list, reader: str | int | None) -> list:
        if reader is None:
            return readers
        if isinstance(reader, int) or (isinstance(reader, str) and reader.isdigit()):
            i = int(reader)
            if not 0 <= i < len(readers):
                raise NoReader(f"no reader number {i} (there are {len(readers)})")
            return [readers[i]]
        exact = [r for r in readers if str(r) == reader]
        if exact:
            return exact
        partial = [r for r in readers if reader in str(r)]
        if len(partial) == 1:
            return partial
        if not partial:
            raise NoReader(f"no reader named {reader!r}")
        raise NoReader(f"{reader!r} names {len(partial)} readers; be more precise")

    @property
    def atr(self) -> bytes:
        return bytes(self._conn.getATR())

    def transmit(self, apdu: bytes) -> bytes:
        from smartcard.Exceptions import CardConnectionException
        try:
            data, sw1, sw2 = self._conn.transmit(list(apdu))
            if sw1 == 0x6C and len(apdu) >= 5:  # wrong Le: resend with the one the card wants
                data, sw1, sw2 = self._conn.transmit(list(apdu[:-1]) + [sw2])
            out = bytearray(data)
            while sw1 == 0x61:  # more data waiting: GET RESPONSE
                data, sw1, sw2 = self._conn.transmit([0x00, 0xC0, 0x00, 0x00, sw2])
                out += bytes(data)
        except CardConnectionException as e:
            raise PcscError(f"the card stopped answering ({e})") from None
        return bytes(out) + bytes((sw1, sw2))

    def close(self) -> None:
        try:
            self._conn.disconnect()
        except Exception:  # noqa: BLE001
            pass

    def __enter__(self) -> "PcscTransport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
