"""Persistence of the authorities: SQLAlchemy 2 models, one engine from a URL (SQLite by
default, PostgreSQL by URL), Alembic migrations run from code, and small queries.

    store = Store.open("sqlite:///…/openjpki.sqlite3"); store.migrate()
    with store.transaction() as session: ...
"""

from openjpki.store.engine import Store, make_engine
from openjpki.store.migrate import head_revision, is_current, schema_differences, upgrade
from openjpki.store.models import KINDS, STATUSES, Authority, Base, Certificate, CrlSeries
from openjpki.store.queries import parse_serial, serial_hex

__all__ = [
    "Authority",
    "Base",
    "Certificate",
    "CrlSeries",
    "KINDS",
    "STATUSES",
    "Store",
    "head_revision",
    "is_current",
    "make_engine",
    "parse_serial",
    "schema_differences",
    "serial_hex",
    "upgrade",
]
