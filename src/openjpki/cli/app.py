"""The root Typer app, global options, and the one place errors become exit codes.

Exit status (CLI.md): 0 success; 1 the answer is a refusal (printed with its rule); 2 bad
usage or an error; 3 a counter procedure accepted and queued for later (R5.9, the
authorities unavailable). No command ever prints a Python traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer
from rich.console import Console

from openjpki.config import Settings
from openjpki.private_home import (
    HomeNotPrivate, check_private_home, claim_new_home, set_private_umask,
)

app = typer.Typer(
    name="openjpki",
    help="OpenJPKI: 公的個人認証サービス (JPKI) — authorities, virtual cards, counter procedures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

console = Console()
err_console = Console(stderr=True)


class CliError(Exception):
    """A one-line message for the user; exit status 2."""


@app.callback()
def _root(
    ctx: typer.Context,
    home: Optional[Path] = typer.Option(
        None, "--home", help="Directory for configuration, keys and the SQLite database "
        "(default $OPENJPKI_HOME or ~/.openjpki)."),
    database_url: Optional[str] = typer.Option(
        None, "--database-url", help="SQLAlchemy URL of the store (default SQLite in --home; "
        "or $OPENJPKI_DATABASE_URL)."),
) -> None:
    ctx.obj = Settings.resolve(home, database_url)


def settings(ctx: typer.Context) -> Settings:
    """The settings of this invocation (from the root callback)."""
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings.resolve()


def authority_service(ctx: typer.Context):
    """The authority service of the home (:func:`openjpki.services.authority_home.open_authorities`);
    exit 2 with one line when the home is not initialised or its keys are unusable."""
    from openjpki.services.authority import NotInitialised
    from openjpki.services.authority_home import open_authorities
    from openjpki.services.authority_setup import SetupError

    try:
        return open_authorities(settings(ctx))
    except (NotInitialised, SetupError) as e:
        fail(str(e))


def require_private_home(ctx: typer.Context, *, claim: bool = False) -> None:
    """``init``, ``serve`` and the worker start only on a home others cannot read: exit 2
    with one line naming the path and the ``chmod`` to run (see openjpki.private_home).
    With ``claim`` (the commands that make the home) a home not made yet is made 0700."""
    try:
        if claim:
            claim_new_home(settings(ctx))
        check_private_home(settings(ctx))
    except HomeNotPrivate as e:
        fail(str(e))


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, indent=2, default=str) + "\n")


def fail(message: str) -> NoReturn:
    """Bad usage or an error: one line on stderr, exit 2."""
    raise CliError(message)


def _one_line(message: str) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)


def undecodable_argument(args: list[str]) -> str | None:
    """A one-line message for the first argument that is not UTF-8 text (Python keeps such
    bytes as lone surrogates, which no later step could encode), else None."""
    for number, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError as e:
            byte = ord(arg[e.start]) - 0xDC00 if 0xDC80 <= ord(arg[e.start]) <= 0xDCFF else None
            what = f"byte 0x{byte:02X}" if byte is not None else f"U+{ord(arg[e.start]):04X}"
            return (f"argument {number} is not UTF-8 text ({what} at position {e.start + 1}); "
                    "give every argument in UTF-8")
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point: every way out is an exit status and, on error, one line on stderr —
    usage errors (bad or missing option) exit 2, ``typer.Exit`` keeps its code, and anything
    unexpected is caught here; never a traceback."""
    set_private_umask()  # whatever this process writes into the home is its owner's only
    args = list(sys.argv[1:] if argv is None else argv)
    problem = undecodable_argument(args)
    if problem is not None:
        _one_line(problem)
        sys.exit(2)
    try:
        rc = app(args=args, prog_name="openjpki", standalone_mode=False)
    except CliError as e:
        _one_line(str(e))
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as e:  # noqa: BLE001 — the last line of defence against tracebacks
        # Typer's vendored click raises its own UsageError family; recognise them by shape so
        # the message stays one line instead of Rich's multi-line box.
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            if type(e).__name__ == "NoArgsIsHelpError":
                e.show()  # the group's help, as `openjpki rules` alone should print
            elif type(e).__name__ == "Abort" or isinstance(e, EOFError):
                _one_line("aborted")
            else:
                ctx = getattr(e, "ctx", None)
                where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                _one_line(f"{e.format_message()}{where}")
            sys.exit(e.exit_code if isinstance(e.exit_code, int) and e.exit_code else 2)
        if type(e).__name__ == "Abort":
            _one_line("aborted")
            sys.exit(2)
        if isinstance(e, OverflowError):  # a number past what a date or the store can hold
            _one_line("a number given is too large for what it counts")
            sys.exit(2)
        if isinstance(e, UnicodeError):  # standard input or a file that is not UTF-8 text
            _one_line("the input is not UTF-8 text")
            sys.exit(2)
        _one_line(f"{type(e).__name__}: {e}")
        sys.exit(2)
    sys.exit(rc if isinstance(rc, int) else 0)
