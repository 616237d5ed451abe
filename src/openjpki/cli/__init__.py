"""The ``openjpki`` command line (docs/CLI.md): thin commands that parse, call a
service and print. Each group lives in its own module and registers itself on import.

``main`` loads only the module(s) of the command named on the line (``openjpki crl generate``
imports ``pki_cmd`` alone): importing every group and having Typer build all of their
commands costs about a third of a second on every run. Help, an unknown word, or no command
loads them all, so ``--help`` and error messages list everything.
"""

from __future__ import annotations

import importlib
from typing import Optional, Sequence

from openjpki.cli.app import app

# Each top-level command or group, and the modules that register it (or add commands to it).
# tests/cli/test_lazy_loading.py checks this against what the modules actually register.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "rules": ("rules_cmd",),
    "init": ("pki_cmd",), "cert": ("pki_cmd",), "crl": ("pki_cmd",), "serve": ("pki_cmd",),
    "card": ("card_cmd",), "client": ("card_cmd", "citizen_cmd", "holder_cmd"),
    "verify": ("verify_cmd",),
    "resident": ("counter_cmd",), "counter": ("counter_cmd", "letters_cmd"),
    "register": ("counter_cmd",),
    "audit": ("counter_cmd",),
    "demo": ("service_cmd",), "worker": ("service_cmd",), "queue": ("service_cmd",),
    "authorities": ("service_cmd", "ceremony_cmd"), "ocsp": ("ocsp_cmd",),
    "notices": ("citizen_cmd",), "kiosk": ("citizen_cmd",), "konbini": ("citizen_cmd",),
    "clerk": ("pages_cmd",),
    "sandbox": ("sandbox_cmd",),
    "platform": ("platform_cmd",),
}
ALL_MODULES: tuple[str, ...] = tuple(dict.fromkeys(m for ms in COMMAND_MODULES.values() for m in ms))
_VALUED_ROOT_OPTIONS = ("--home", "--database-url")


def load_commands(modules: Sequence[str] = ALL_MODULES) -> None:
    """Register the command groups of ``modules`` (all by default) on the root app."""
    for name in modules:
        importlib.import_module(f"{__name__}.{name}")


def command_word(argv: Sequence[str]) -> Optional[str]:
    """The first word of ``argv`` that is a command (after the root options and their
    values); None when there is none before an option such as ``--help``."""
    args = iter(argv)
    for arg in args:
        if arg in _VALUED_ROOT_OPTIONS:
            next(args, None)
        elif any(arg.startswith(o + "=") for o in _VALUED_ROOT_OPTIONS):
            continue
        elif arg.startswith("-"):
            return None
        else:
            return arg
    return None


def main(argv: Optional[list[str]] = None) -> None:
    import sys

    from openjpki.cli.app import main as run

    word = command_word(sys.argv[1:] if argv is None else argv)
    load_commands(COMMAND_MODULES.get(word or "", ALL_MODULES))
    run(argv)


__all__ = ["ALL_MODULES", "COMMAND_MODULES", "app", "command_word", "load_commands", "main"]
