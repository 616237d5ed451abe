"""``openjpki clerk …``: the accounts that sign in to the counter pages (``/counter``).

    openjpki clerk add NAME [--role clerk|supervisor] [--display-name TEXT] [--password-stdin]
    openjpki clerk list [--json]
    openjpki clerk set NAME [--role R] [--disable|--enable] [--password-stdin]

The password is read from standard input with ``--password-stdin`` (one line), else from
``$OPENJPKI_CLERK_PASSWORD``, else asked for twice at the terminal; it is never an option
(it would stay in the shell history and the process list). The first supervisor is made
this way on a fresh home. Thin: parse, call services.clerks, print.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from typing import Optional

import typer

from openjpki.cli.app import app, console, fail, print_json, settings

clerk_app = typer.Typer(help="Clerk accounts of the counter pages (/counter).",
                        no_args_is_help=True)
app.add_typer(clerk_app, name="clerk")

PASSWORD_ENV = "OPENJPKI_CLERK_PASSWORD"


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _store(ctx: typer.Context):
    """The home's store, at the newest schema (exit 2 when ``init`` has not made it)."""
    from pathlib import Path

    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from openjpki.store import Store
    from openjpki.store.schema import schema_version

    url = settings(ctx).effective_database_url
    try:
        u = make_url(url)
    except Exception:  # noqa: BLE001
        fail(f"not a database URL: {url}")
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:" \
            and not Path(u.database).expanduser().exists():
        fail("the home is not initialised: run `openjpki init` first")
    store = Store.open(url)
    try:
        with store.engine.connect() as conn:
            initialised = schema_version(conn) is not None
        if initialised:
            store.migrate()
    except SQLAlchemyError as e:
        store.dispose()
        fail(f"the store cannot be opened: {type(e).__name__}")
    if not initialised:
        store.dispose()
        fail("the home is not initialised: run `openjpki init` first")
    return store


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    env = os.environ.get(PASSWORD_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        fail(f"give the password with --password-stdin or ${PASSWORD_ENV}")
    first = typer.prompt("Password", hide_input=True)
    again = typer.prompt("Password (again)", hide_input=True)
    if first != again:
        fail("the two passwords differ")
    return first


def _now() -> datetime:
    return datetime.now(timezone.utc)


@clerk_app.command("add")
def clerk_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Sign-in name: 2-64 of a-z 0-9 . _ -"),
    role: str = typer.Option("clerk", "--role", help="clerk or supervisor."),
    display_name: Optional[str] = typer.Option(None, "--display-name",
                                               help="Name shown on the pages."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Read the password from standard input."),
    as_json: bool = typer.Option(False, "--json", help="Print the account as JSON."),
) -> None:
    """Add a clerk (at least 10 characters of password; hashed with scrypt)."""
    from openjpki.services.clerks import ClerkError, add_clerk, check_name, check_role

    try:
        check_name(name)
        check_role(role)
    except ClerkError as e:
        fail(str(e))
    store = _store(ctx)
    try:
        view = add_clerk(store, name, _password(password_stdin), role=role,
                         display_name=display_name, now=_now(), actor="cli")
    except ClerkError as e:
        fail(str(e))
    finally:
        store.dispose()
    if as_json:
        print_json(view.to_dict())
    else:
        _say(f"clerk {view.name} added ({view.role})")


@clerk_app.command("list")
def clerk_list(ctx: typer.Context,
               as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """The clerk accounts."""
    from openjpki.services.clerks import list_clerks

    store = _store(ctx)
    try:
        views = list_clerks(store)
    finally:
        store.dispose()
    if as_json:
        print_json([v.to_dict() for v in views])
        return
    for v in views:
        _say(f"{v.id:>4}  {v.name:<20} {v.role:<10} {'active' if v.active else 'disabled'}  "
             f"{v.display_name}")


@clerk_app.command("set")
def clerk_set(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Sign-in name."),
    role: Optional[str] = typer.Option(None, "--role", help="clerk or supervisor."),
    disable: bool = typer.Option(False, "--disable", help="The account can no longer sign in."),
    enable: bool = typer.Option(False, "--enable", help="The account can sign in again."),
    password_stdin: bool = typer.Option(False, "--password-stdin",
                                        help="Set a new password, read from standard input."),
    as_json: bool = typer.Option(False, "--json", help="Print the account as JSON."),
) -> None:
    """Change a clerk's role, activity or password (their sessions end)."""
    from openjpki.services.clerks import ClerkError, update_clerk

    if disable and enable:
        fail("--disable and --enable exclude each other")
    active = False if disable else True if enable else None
    password = _password(True) if password_stdin else None
    store = _store(ctx)
    try:
        view = update_clerk(store, name, now=_now(), actor="cli", role=role, active=active,
                            password=password)
    except ClerkError as e:
        fail(str(e))
    finally:
        store.dispose()
    if as_json:
        print_json(view.to_dict())
    else:
        _say(f"clerk {view.name}: {view.role}, {'active' if view.active else 'disabled'}")
