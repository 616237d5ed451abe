"""Where virtual cards live between uses: a directory of cards, one sub-directory each.

``<cards>/store.key`` is the store's 32-byte key (see ``state.py``), made on first use with
mode 0600. ``<cards>/<card_id>/state.bin`` is the sealed card state, ``lock`` the lock file:
a card is a physical thing, in one place at a time, so opening it takes an exclusive
``flock`` held until ``close()``. While ``openjpki card insert`` holds a card in the reader,
an in-process issuing terminal cannot open it (``CardInUse``); the lock goes with the
process, so a killed card process frees its card.

A card made for an issuance that may still fail is **staged**: ``create(card_id,
staged=True)`` makes it under ``<cards>/.staging/<host>:<pid>/<card_id>``, where only this
process finds it (``open`` looks there first for the cards it staged). ``promote`` moves it
to its place with one ``rename`` once the records naming it are committed; ``drop_staged``
removes it at once when the issuance was refused or failed. A crash in between leaves it in
the staging folder of a process that is gone: :meth:`CardStore.staged_of_stopped` lists
those for the repair at start (promote what the store names, remove the rest).
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import socket
import time
from pathlib import Path

from openjpki.card.card import VirtualCard
from openjpki.card.layout import DEFAULT_ATR
from openjpki.card.state import CardState, FileSaver, unseal
from openjpki.keyfile import load_or_create_key
from openjpki.processes import pid_alive

CARD_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STAGING = ".staging"


def _owner() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


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
        self._staged: dict[str, Path] = {}  # staged cards of this process (see the module)

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
        card_id = _check_id(card_id)
        return self._staged.get(card_id) or self.directory / card_id

    # --- cards -----------------------------------------------------------------------------
    def create(self, card_id: str, *, atr: bytes = DEFAULT_ATR, staged: bool = False) -> bytes:
        """Make a blank card (no keys, certificates or PINs) and return its issuing secret
        (32 bytes), for the issuer only: the card answers issuing commands to whoever
        proves knowledge of it (see ``issuer.py``). ``staged``: see the module text."""
        final = self.directory / _check_id(card_id)
        d = self.directory / STAGING / _owner() / card_id if staged else final
        key = self._key()
        if staged:
            if final.exists():
                raise CardExists(f"card {card_id} already exists")
            for folder in (self.directory / STAGING, d.parent):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            d.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise CardExists(f"card {card_id} already exists") from None
        os.chmod(d, 0o700)
        if staged:
            self._staged[card_id] = d
        state = CardState.blank(card_id, atr=atr)
        FileSaver(d / "state.bin", key).save(state)
        return state.issuing_secret

    def promote(self, card_id: str, staged: Path | None = None) -> None:
        """A staged card to its place (one rename; the records naming it are committed)."""
        source = staged or self._staged.get(_check_id(card_id))
        if source is None:
            return
        os.rename(source, self.directory / card_id)
        self._staged.pop(card_id, None)
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)  # the rename is durable before the card is used
        finally:
            os.close(fd)

    def drop_staged(self, card_id: str, staged: Path | None = None) -> bool:
        """Remove a staged card at once (its issuance was refused or failed)."""
        source = staged or self._staged.pop(_check_id(card_id), None)
        if source is None or not source.is_dir():
            return False
        shutil.rmtree(source, ignore_errors=True)
        return True

    def staged_of_stopped(self) -> list[tuple[str, Path]]:
        """(card id, folder) of the staged cards of processes of this host that are gone."""
        root = self.directory / STAGING
        host = socket.gethostname()[:60]
        out: list[tuple[str, Path]] = []
        if not root.is_dir():
            return out
        for owner in root.iterdir():
            name, _, pid = owner.name.rpartition(":")
            if name != host or not pid.isdigit() or pid_alive(int(pid)) \
                    or int(pid) == os.getpid():
                continue
            out += [(d.name, d) for d in owner.iterdir()
                    if d.is_dir() and CARD_ID_RE.match(d.name)]
        return out

    def forget_staging_folder(self, folder: Path) -> None:
        """Remove the (now empty) staging folder of a stopped process."""
        try:
            folder.rmdir()
        except OSError:
            pass

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
