"""Sandbox or production: whether the sandbox controls (movable clock, state on demand,
injected responder faults) may be used on a home.

Decision (README "Testing your integration"):

1. ``openjpki serve --production`` runs that server in production mode, whatever else says
   (its worker processes learn it from ``$OPENJPKI_SERVICE_MODE``).
2. Otherwise ``$OPENJPKI_SERVICE_MODE`` (``sandbox`` or ``production``), when set.
3. Otherwise ``[service] mode = "sandbox"`` or ``"production"`` in the home's
   ``openjpki.toml`` decides, for the server and for every ``openjpki sandbox …`` command.
4. Otherwise the database decides: the embedded SQLite store is a sandbox; any other
   (PostgreSQL, ``--database-url``) is production.

In production mode every sandbox call is refused (CLI: one line, exit 1; API: 403), and the
server reads none of the sandbox settings: wall clock, no faults, whatever a CLI wrote.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from sqlalchemy.engine import make_url

from openjpki.config import Settings, config_value

SANDBOX = "sandbox"
PRODUCTION = "production"
MODES = (SANDBOX, PRODUCTION)
CONFIG_TABLE = "service"
MODE_ENV = "OPENJPKI_SERVICE_MODE"

MESSAGE_JA = "サンドボックスの操作はサンドボックスモードでのみ使えます"
MESSAGE_EN = "sandbox controls work only in sandbox mode"


class ModeConfigError(ValueError):
    """``[service] mode`` is not one of the modes (one line)."""


@dataclass(frozen=True)
class Mode:
    """The mode in force and why (``source``: ``--production``, the config file, or the
    database's kind)."""

    name: str
    source: str

    @property
    def sandbox(self) -> bool:
        return self.name == SANDBOX

    def to_dict(self) -> dict:
        return {"mode": self.name, "source": self.source}


class SandboxRefused(Exception):
    """A sandbox call in production mode."""

    def __init__(self, mode: Mode) -> None:
        self.mode = mode
        self.message_ja = f"{MESSAGE_JA}（本番モード: {mode.source}）。"
        self.message_en = f"{MESSAGE_EN}; this service runs in production mode ({mode.source})"
        super().__init__(f"{self.message_en} / {self.message_ja}")


def configured_mode(settings: Settings) -> Optional[str]:
    """``[service] mode`` of the home's configuration, or None when not set."""
    path = settings.config_file
    value = config_value(path, CONFIG_TABLE, "mode", ModeConfigError)
    if value is None:
        return None
    if value not in MODES:
        raise ModeConfigError(f"[{CONFIG_TABLE}] mode in {path} must be \"sandbox\" or "
                              f"\"production\", not {value!r}")
    return value


def resolve_mode(settings: Settings, *, production: bool = False) -> Mode:
    """The mode of ``settings`` (see the module docstring for the order)."""
    if production:
        return Mode(PRODUCTION, "serve --production")
    env = os.environ.get(MODE_ENV, "").strip()
    if env:
        if env not in MODES:
            raise ModeConfigError(f"${MODE_ENV} must be sandbox or production, not {env!r}")
        return Mode(env, f"${MODE_ENV}")
    configured = configured_mode(settings)
    if configured is not None:
        return Mode(configured, f"[{CONFIG_TABLE}] mode in {settings.config_file}")
    backend = make_url(settings.effective_database_url).get_backend_name()
    if backend == "sqlite":
        return Mode(SANDBOX, "the embedded SQLite store")
    return Mode(PRODUCTION, f"a {backend} database")


def require_sandbox(mode: Mode) -> None:
    """SandboxRefused unless ``mode`` is the sandbox."""
    if not mode.sandbox:
        raise SandboxRefused(mode)
