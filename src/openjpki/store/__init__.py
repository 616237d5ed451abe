"""Persistence of the authorities: SQLAlchemy 2 models, one engine from a URL (SQLite by
default, PostgreSQL by URL), Alembic migrations run from code, and small queries.

    store = Store.open("sqlite:///…/openjpki.sqlite3"); store.migrate()
    with store.transaction() as session: ...
"""

from typing import Any

from openjpki.store.engine import Store, make_engine
from openjpki.store.models import KINDS, STATUSES, Authority, Base, Certificate, CrlSeries, OcspResponse
from openjpki.store.queries import parse_serial, serial_hex
from openjpki.store.schema import SCHEMA_HEAD, is_current, schema_version

_MIGRATE = ("head_revision", "schema_differences", "upgrade")


def __getattr__(name: str) -> Any:
    """The migration functions, imported with Alembic only when asked for (a command that
    just reads the store does not pay Alembic's import)."""
    if name in _MIGRATE:
        from openjpki.store import migrate

        return getattr(migrate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Authority",
    "Base",
    "Certificate",
    "CrlSeries",
    "OcspResponse",
    "KINDS",
    "SCHEMA_HEAD",
    "STATUSES",
    "Store",
    "head_revision",
    "is_current",
    "make_engine",
    "parse_serial",
    "schema_differences",
    "schema_version",
    "serial_hex",
    "upgrade",
]
