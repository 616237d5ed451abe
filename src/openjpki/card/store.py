"""Where virtual cards live between uses: a directory of cards, one sub-directory each.

``<cards>/store.key`` is the store's 32-byte key (see ``state.py``), made on first use with
mode 0600. ``<cards>/<card_id>/state.bin`` is the sealed card state, ``lock`` the lock file:
a card is a physical thing, in one place at a time, so opening it takes an exclusive
``flock`` held until ``close()``. While ``openjpki card insert`` holds a card in the reader,
an in-process issuing terminal cannot open it (``CardInUse``); the lock goes with the
process, so a killed card process frees its card.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path

from openjpki.card.card import VirtualCard
from openjpki.card.layout import DEFAULT_ATR
from openjpki.card.state import CardState, FileSaver, unseal
from openjpki.keyfile import load_or_create_key

CARD_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class CardStoreError(Exception):
    """A card store problem, with a one-line message for the user."""


class UnknownCard(CardStoreError):
    pass


class CardExists(CardStoreError):
    pass


class CardInUse(CardStoreError):
    pass


def _check_id(card_id: str) -> str:
    if not isinstance(card_id, str) or not CARD_ID_RE.match(card_id) or ".." in card_id:
        raise CardStoreError(f"invalid card id {card_id!r}: use 1-64 of A-Z a-z 0-9 _ . -")
    return card_id


class CardStore:
    """``CardStore(directory)``; ``directory`` is usually ``<home>/cards``."""

    def __init__(self, directory: Path | str, store_key: bytes | None = None) -> None:
        self.directory = Path(directory)
        self._store_key = store_key

    def __repr__(self) -> str:
        return f"CardStore({str(self.directory)!r})"

    # --- the store key -------------------------------------------------------------------
    def _key(self) -> bytes:
        if self._store_key is None:
            path = self.directory / "store.key"
            key = load_or_create_key(path)
            if len(key) != 32:
                raise CardStoreError(f"{path} is not a 32-byte card store key")
            self._store_key = key
        return self._store_key

    def _dir(self, card_id: str) -> Path:
        return self.directory / _check_id(card_id)

    # --- cards -----------------------------------------------------------------------------
    def create(self, card_id: str, *, atr: bytes = DEFAULT_ATR) -> bytes:
        """Make a blank card (no keys, certificates or PINs) and return its issuing secret
        (32 bytes), for the issuer only: the card answers issuing commands to whoever
        proves knowledge of it (see ``issuer.py``)."""
        d = self._dir(card_id)
        key = self._key()
        try:
            d.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise CardExists(f"card {card_id} already exists") from None
        os.chmod(d, 0o700)
        state = CardState.blank(card_id, atr=atr)
        FileSaver(d / "state.bin", key).save(state)
        return state.issuing_secret

    def exists(self, card_id: str) -> bool:
        return (self._dir(card_id) / "state.bin").is_file()

    def list(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.name for p in self.directory.iterdir()
                      if p.is_dir() and CARD_ID_RE.match(p.name) and (p / "state.bin").is_file())

    def open(self, card_id: str, *, wait: float = 0.0) -> VirtualCard:
        """The card, held exclusively until ``close()``. CardInUse if another holds it —
        at once, or after waiting up to ``wait`` seconds for it (a counter terminal waiting
        its turn: several server threads or processes asking the same card one after the
        other). The state is read only once the lock is held, so every holder sees what
        the one before it left (tries used included)."""
        d = self._dir(card_id)
        if not (d / "state.bin").is_file():
            raise UnknownCard(f"no card {card_id} in {self.directory}")
        lock_fd = os.open(d / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        if not _lock(lock_fd, wait):
            os.close(lock_fd)
            raise CardInUse(f"card {card_id} is in use (inserted in a reader or being "
                            "issued by another process)") from None
        try:
            saver = FileSaver(d / "state.bin", self._key())
            state = saver.load(card_id)
        except Exception as e:
            os.close(lock_fd)
            if isinstance(e, CardStoreError):
                raise
            raise CardStoreError(f"card {card_id}: cannot read its state "
                                 f"({type(e).__name__}); wrong store key?") from None

        def release() -> None:
            os.close(lock_fd)  # closing the descriptor drops the flock
        return VirtualCard(state, saver, on_close=release)

    def status(self, card_id: str) -> dict:
        """A card's status (tries left, what it holds) without holding it: safe while the
        card is in a reader, since the state file is only ever replaced whole."""
        d = self._dir(card_id)
        path = d / "state.bin"
        if not path.is_file():
            raise UnknownCard(f"no card {card_id} in {self.directory}")
        try:
            state = unseal(self._key(), card_id, path.read_bytes())
        except Exception as e:  # noqa: BLE001
            raise CardStoreError(f"card {card_id}: cannot read its state "
                                 f"({type(e).__name__}); wrong store key?") from None
        card = VirtualCard(state, saver=_ReadOnly())
        out = card.status()
        out["in_use"] = self._in_use(d)
        return out

    @staticmethod
    def _in_use(d: Path) -> bool:
        try:
            fd = os.open(d / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


def _lock(fd: int, wait: float) -> bool:
    deadline = time.monotonic() + max(0.0, wait)
    pause = 0.001
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.02)


class _ReadOnly:
    def save(self, state: CardState) -> None:
        raise CardStoreError("read-only view of a card")
