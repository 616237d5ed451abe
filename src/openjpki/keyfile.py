"""Symmetric key files kept in the home: made once, exclusively, readable by the owner only."""

from __future__ import annotations

import os
from pathlib import Path

from openjpki.private_home import make_private_dir


def load_or_create_key(path: Path, size: int = 32) -> bytes:
    """The key in ``path``, created with ``size`` random bytes (mode 0600, fsync'd) if the
    file does not exist yet. Two processes racing to create it both end up with the winner's
    key (O_EXCL). The caller checks the length of what it reads back."""
    make_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()
    key = os.urandom(size)
    try:
        os.write(fd, key)
        os.fsync(fd)
    finally:
        os.close(fd)
    return key
