"""Where OpenJPKI keeps its files, and which database it uses.

``--home`` (default ``$OPENJPKI_HOME`` or ``~/.openjpki``) holds configuration, keys, card
state and the SQLite database unless a database URL (``--database-url`` or
``$OPENJPKI_DATABASE_URL``) names another.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
