"""The ``openjpki`` command line (shared/spec/CLI.md): thin commands that parse, call a
service and print. Each group lives in its own module and registers itself here."""

from __future__ import annotations

from openjpki.cli.app import app, main  # noqa: F401
from openjpki.cli import rules_cmd  # noqa: F401  (registers `rules`)

__all__ = ["app", "main"]
