"""Where OpenJPKI keeps its files, and which database it uses.

``--home`` (default ``$OPENJPKI_HOME`` or ``~/.openjpki``) holds configuration, keys, card
state and the SQLite database unless a database URL (``--database-url`` or
``$OPENJPKI_DATABASE_URL``) names another.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def default_home() -> Path:
    env = os.environ.get("OPENJPKI_HOME")
    return Path(env).expanduser() if env else Path("~/.openjpki").expanduser()


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str | None = None

    @classmethod
    def resolve(cls, home: Path | None = None, database_url: str | None = None) -> "Settings":
        home = Path(home).expanduser() if home else default_home()
        url = database_url or os.environ.get("OPENJPKI_DATABASE_URL") or None
        return cls(home=home, database_url=url)

    @property
    def effective_database_url(self) -> str:
        """The database URL in force: the one given, else SQLite inside the home."""
        return self.database_url or f"sqlite:///{self.home / 'openjpki.sqlite3'}"

    @property
    def keys_dir(self) -> Path:
        return self.home / "keys"

    @property
    def cards_dir(self) -> Path:
        return self.home / "cards"

    @property
    def config_file(self) -> Path:
        return self.home / "openjpki.toml"


def config_value(path: Path, table: str, key: str, error: type[Exception]) -> Any:
    """``[table] key`` of the TOML configuration file at ``path``; None when the file, the
    table or the key is absent. Raises ``error`` with a one-line message when the file is
    not readable TOML or ``[table]`` is not a table (the caller checks the value itself)."""
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise error(f"{path} is not readable TOML: {e}") from None
    found = data.get(table, {})
    if not isinstance(found, dict):
        raise error(f"[{table}] in {path} must be a table")
    return found.get(key)


NODE_ENV = "OPENJPKI_NODE"


def node_name(settings: Settings) -> str:
    """The name of this node (``serve`` process) in a deployment of several:
    ``$OPENJPKI_NODE``, else ``[service] node`` in the home's openjpki.toml, else the host
    name. It appears in /healthz so a load balancer and an operator can tell nodes apart."""
    env = os.environ.get(NODE_ENV)
    if env:
        return env
    try:
        value = config_value(settings.config_file, "service", "node", ValueError)
    except ValueError:
        value = None
    if isinstance(value, str) and value.strip():
        return value.strip()
    import socket  # only here: the host name is the last resort

    return socket.gethostname()
