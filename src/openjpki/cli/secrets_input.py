"""PINs (and the like) for the CLI without putting them on the command line, where every
local user sees them in the process list.

Where a command's PIN comes from, first found wins:

1. ``--pin-stdin``: standard input, one per line, in the order the command's help lists
   them (an empty line for one not given);
2. the option itself (``--card-pin 2468``): still taken, with a warning on stderr;
3. the environment: ``OPENJPKI_<OPTION>_PIN``, named after the option (``--card-pin`` →
   ``OPENJPKI_CARD_PIN``, ``--new``/``--new-pin`` → ``OPENJPKI_NEW_PIN``, ``--current`` →
   ``OPENJPKI_CURRENT_PIN``, ``--pin`` → ``OPENJPKI_PIN``, ``--other-pin`` →
   ``OPENJPKI_OTHER_PIN``, ``--sign-pin``/``--auth-pin`` → ``OPENJPKI_SIGN_PIN``/
   ``OPENJPKI_AUTH_PIN``);
4. a prompt with hidden input, on a terminal, for a PIN the command needs.
"""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from openjpki.cli.app import err_console, fail

PIN_STDIN = typer.Option(False, "--pin-stdin", help="Read the PINs from standard input, one "
                         "per line, in the order listed (instead of options; see README).")


def env_name(option: str) -> str:
    """``--card-pin`` → ``OPENJPKI_CARD_PIN``; ``--new`` → ``OPENJPKI_NEW_PIN``."""
    stem = option.lstrip("-").upper().replace("-", "_")
    return f"OPENJPKI_{stem}" if stem.endswith("PIN") else f"OPENJPKI_{stem}_PIN"


def warn_on_argv(option: str) -> None:
    err_console.print(f"warning: {option} on the command line can be seen by other users "
                      f"(ps); use --pin-stdin, ${env_name(option)} or the prompt",
                      markup=False, highlight=False, soft_wrap=True)


class Pins:
    """The PINs of one command invocation; ``from_stdin`` reads them line by line."""

    def __init__(self, from_stdin: bool) -> None:
        self.from_stdin = from_stdin

    def _line(self, option: str) -> Optional[str]:
        line = sys.stdin.readline()
        if not line:
            fail(f"--pin-stdin: no line on standard input for {option}")
        line = line[:-1] if line.endswith("\n") else line
        return line[:-1] if line.endswith("\r") else line

    def get(self, value: Optional[str], option: str, label: str, *,
            required: bool = True, env: Optional[str] = None) -> Optional[str]:
        """The PIN for ``option`` (see the module docstring); None for an optional one given
        nowhere. A needed one given nowhere, with no terminal to ask on, exits 2. ``env``
        names the variable to read instead of ``OPENJPKI_<OPTION>_PIN`` (``--pin-env``); it
        must then be set."""
        if self.from_stdin:
            if value is not None:
                fail(f"{option} and --pin-stdin exclude each other")
            got = self._line(option)
            if got or required:
                return got
            return None
        if value is not None:
            warn_on_argv(option)
            return value
        if env is not None:
            if env not in os.environ:
                fail(f"{label}: ${env} is not set")
            return os.environ[env]
        found = os.environ.get(env_name(option))
        if found:
            return found
        if not required:
            return None
        if not sys.stdin.isatty():
            fail(f"{option}: give the {label} with --pin-stdin or ${env_name(option)} "
                 "(no terminal to ask on)")
        return typer.prompt(label, hide_input=True)
