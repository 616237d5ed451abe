"""Whether a process of this machine is still alive: how work left by a process that died
is told from work a live one still holds (staged cards of the card store, leases of the
deferred queue)."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs here; a zombie (killed, not yet reaped) is dead for
    this purpose, and a process we may not signal is taken as alive."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
