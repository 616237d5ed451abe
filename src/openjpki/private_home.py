"""The home is private to its owner: folders 0700, files 0600.

Every process of OpenJPKI sets the umask :data:`PRIVATE_UMASK` when it starts (the CLI entry
and the app factories), so whatever it creates in the home — the SQLite store and its -wal
and -shm files, the relying party's database, keys, cards, letters — is its owner's only.
:func:`private_home_problem` is what ``init``, ``serve`` and the worker check before they
start, as ssh checks its keys: a home that others may enter, or a secret file (store, key)
that others may read, is refused with one line naming the path and the ``chmod`` to run.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator, Optional

from sqlalchemy.engine import make_url

from openjpki.config import Settings

PRIVATE_UMASK = 0o077
_OTHERS = 0o077  # any permission for the group or others

# The home's own files that hold secrets or register data (beside everything in keys/).
_SECRET_FILES = ("openjpki.sqlite3", "relying-party.sqlite3", "cards/store.key")
_SQLITE_COMPANIONS = ("", "-wal", "-shm", "-journal")


class HomeNotPrivate(Exception):
    """One line: the path others can reach and the ``chmod`` that closes it."""


def set_private_umask() -> int:
    """Set the process's umask to 0077; returns the previous one."""
    return os.umask(PRIVATE_UMASK)


def make_private_dir(path: Path) -> None:
    """``path`` and missing parents created 0700 (an existing folder is left as it is)."""
    path = Path(path)
    if path.is_dir():
        return
    missing = [path]
    while not missing[-1].parent.exists() and missing[-1].parent != missing[-1]:
        missing.append(missing[-1].parent)
    for folder in reversed(missing):  # Path.mkdir gives parents the default mode
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:
            continue
        os.chmod(folder, 0o700)


def create_private_file(path: Path) -> None:
    """An empty file at ``path`` made 0600 when none is there (SQLite gives a new database
    file the mode of the umask, and its -wal and -shm files the mode of the database)."""
    make_private_dir(Path(path).parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def sqlite_file(url: str) -> Optional[Path]:
    """The database file of a SQLite URL (None for another database or an in-memory one)."""
    try:
        u = make_url(url)
    except Exception:  # noqa: BLE001 — not a URL: nothing to check here
        return None
    if u.get_backend_name() != "sqlite" or not u.database or u.database == ":memory:" \
            or u.database.startswith("file:"):
        return None
    return Path(u.database).expanduser()


def _secret_files(settings: Settings) -> Iterator[Path]:
    home = settings.home
    bases = [home / "openjpki.sqlite3", home / "relying-party.sqlite3"]
    store = sqlite_file(settings.effective_database_url)
    if store is not None and store not in bases:
        bases.append(store)
    for base in bases:
        for suffix in _SQLITE_COMPANIONS:
            yield base.with_name(base.name + suffix)
    yield home / "cards" / "store.key"
    keys = settings.keys_dir
    if keys.is_dir():
        yield from sorted(p for p in keys.iterdir() if p.is_file())


def _mode(path: Path) -> Optional[int]:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    return stat.S_IMODE(st.st_mode)


def private_home_problem(settings: Settings) -> Optional[str]:
    """A one-line message when the home folder, or a secret file in it (the store and its
    -wal/-shm, the relying party's database, keys), can be reached by the group or others;
    None when they are the owner's only (or do not exist yet). The folders inside are made
    0700 too, but a home closed to others already closes them."""
    home = settings.home
    mode = _mode(home)
    if mode is not None and mode & _OTHERS:
        return f"{home} is open to other users (mode {mode:04o}): run `chmod 700 {home}`"
    for path in _secret_files(settings):
        mode = _mode(path)
        if mode is not None and mode & _OTHERS:
            return (f"{path} can be read by other users (mode {mode:04o}): run "
                    f"`chmod 600 {path}`")
    return None


def is_initialised_home(settings: Settings) -> bool:
    """Whether ``init`` has already run on the home: its SQLite store exists (for another
    database: its configuration names the authorities)."""
    store = sqlite_file(settings.effective_database_url)
    if store is not None:
        return store.exists()
    config = settings.config_file
    return config.exists() and "[pki]" in config.read_text(encoding="utf-8", errors="replace")


def claim_new_home(settings: Settings) -> None:
    """For ``init`` and ``serve`` (which make the home): the home created 0700; a folder that
    exists but was never initialised (keys put there beforehand, say) is made 0700 too, as
    if created now. An initialised home is never changed behind its owner's back."""
    home = settings.home
    if not home.exists():
        make_private_dir(home)
    elif home.is_dir() and not is_initialised_home(settings) and _mode(home) != 0o700:
        os.chmod(home, 0o700)


def check_private_home(settings: Settings) -> None:
    """HomeNotPrivate unless :func:`private_home_problem` finds nothing."""
    problem = private_home_problem(settings)
    if problem is not None:
        raise HomeNotPrivate(problem)
