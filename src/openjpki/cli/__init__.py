"""The ``openjpki`` command line (shared/spec/CLI.md): thin commands that parse, call a
service and print. Each group lives in its own module and registers itself on import."""

from __future__ import annotations

from openjpki.cli.app import app, main
from openjpki.cli import rules_cmd  # noqa: F401  rules …
from openjpki.cli import pki_cmd  # noqa: F401  init, cert …, crl …
from openjpki.cli import card_cmd  # noqa: F401  card …, client …
from openjpki.cli import verify_cmd  # noqa: F401  verify

__all__ = ["app", "main"]
