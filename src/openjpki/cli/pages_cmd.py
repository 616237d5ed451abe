"""``openjpki clerk …``: the accounts that sign in to the counter pages (``/counter``).

    openjpki clerk add NAME [--role clerk|supervisor] [--display-name TEXT] [--password-stdin]
    openjpki clerk list [--json]
    openjpki clerk set NAME [--role R] [--disable|--enable] [--password-stdin]
    openjpki clerk token create LOGIN [--label TEXT] [--expires-days N] [--json]
    openjpki clerk token list [LOGIN] [--json]
    openjpki clerk token revoke ID [--json]

The password is read from standard input with ``--password-stdin`` (one line), else from
``$OPENJPKI_CLERK_PASSWORD``, else asked for twice at the terminal; it is never an option
(it would stay in the shell history and the process list). The first supervisor is made
this way on a fresh home.

``clerk token create`` prints the new API token once (alone on standard output, so
``TOKEN=$(openjpki clerk token create LOGIN)`` works; what it is goes to standard error); the
JSON API takes it as ``Authorization: Bearer …`` (services.clerk_tokens). Only its hash is
kept: a lost token is revoked and another made. Thin: parse, call services.clerks and
services.clerk_tokens, print.
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
token_app = typer.Typer(help="Clerks' API tokens for the JSON API (Authorization: Bearer).",
                        no_args_is_help=True)
clerk_app.add_typer(token_app, name="token")

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
    """The clerk accounts, with their sign-in throttle (failed sign-ins, a delay, the
    addresses held after wrong passwords; `clerk set NAME --enable` clears it)."""
    from openjpki.services.clerks import list_clerks, sign_in_state

    store = _store(ctx)
    try:
        views = list_clerks(store)
        states = sign_in_state(store, _now())
    finally:
        store.dispose()
    if as_json:
        print_json([{**v.to_dict(), "sign_in": states[v.name].to_dict()} for v in views])
        return
    for v in views:
        st = states[v.name]
        held = ""
        if st.failures:
            held += f"  {st.failures} failed sign-ins"
        if st.delayed_until is not None:
            held += f", delayed until {_day(st.delayed_until)}"
        for address, until in st.locked_addresses:
            held += f"  held from {address} until {_day(until)}"
        _say(f"{v.id:>4}  {v.name:<20} {v.role:<10} {'active' if v.active else 'disabled'}  "
             f"{v.display_name}{held}")


@clerk_app.command("set")
def clerk_set(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Sign-in name."),
    role: Optional[str] = typer.Option(None, "--role", help="clerk or supervisor."),
    disable: bool = typer.Option(False, "--disable", help="The account can no longer sign in."),
    enable: bool = typer.Option(False, "--enable", help="The account can sign in again "
                                "(also lifts the holds left by wrong passwords)."),
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


# --- API tokens ----------------------------------------------------------------------------------

def _day(t: Optional[datetime]) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if t is not None else "-"


@token_app.command("create")
def token_create(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="LOGIN", help="The clerk's sign-in name."),
    label: Optional[str] = typer.Option(None, "--label",
                                        help="What the token is for (shown by list)."),
    expires_days: Optional[int] = typer.Option(
        None, "--expires-days", min=1, max=3650,
        help="Days until the token expires (default: it lasts until revoked)."),
    as_json: bool = typer.Option(False, "--json", help="Print the token and its facts as JSON."),
) -> None:
    """Make an API token acting as the clerk, with their role; it is printed only now."""
    from openjpki.services.clerk_tokens import check_expires_days, check_label, create_token
    from openjpki.services.clerks import ClerkError

    try:
        check_label(label)
        check_expires_days(expires_days)
    except ClerkError as e:
        fail(str(e))
    store = _store(ctx)
    now = _now()
    try:
        made = create_token(store, name, label=label, expires_days=expires_days, now=now,
                            actor="cli")
    except ClerkError as e:
        fail(str(e))
    finally:
        store.dispose()
    if as_json:
        print_json(made.to_dict(now))
        return
    v = made.view
    sys.stdout.write(made.token + "\n")
    sys.stdout.flush()
    expiry = f"expires {_day(v.expires_at)}" if v.expires_at else "lasts until revoked"
    sys.stderr.write(f"API token {v.id} for clerk {v.clerk} ({expiry}). It is shown only "
                     "now: keep it in a secret store.\n")


@token_app.command("list")
def token_list(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, metavar="LOGIN",
                                         help="Only this clerk's tokens."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """API tokens (never the tokens themselves): state, expiry, last use."""
    from openjpki.services.clerk_tokens import list_tokens
    from openjpki.services.clerks import ClerkError

    store = _store(ctx)
    now = _now()
    try:
        views = list_tokens(store, name)
    except ClerkError as e:
        fail(str(e))
    finally:
        store.dispose()
    if as_json:
        print_json([v.to_dict(now) for v in views])
        return
    for v in views:
        _say(f"{v.id:>4}  {v.clerk:<20} {v.state(now):<8} made {_day(v.created_at)}  "
             f"expires {_day(v.expires_at)}  last used {_day(v.last_used_at)}  {v.label}")


@token_app.command("revoke")
def token_revoke(
    ctx: typer.Context,
    token_id: int = typer.Argument(..., min=1, max=2 ** 31 - 1, metavar="ID", help="The token's id (see list)."),
    as_json: bool = typer.Option(False, "--json", help="Print the token as JSON."),
) -> None:
    """Revoke an API token at once (revoking one already revoked changes nothing)."""
    from openjpki.services.clerk_tokens import revoke_token
    from openjpki.services.clerks import ClerkError

    store = _store(ctx)
    now = _now()
    try:
        view, changed = revoke_token(store, token_id, now=now, actor="cli")
    except ClerkError as e:
        fail(str(e))
    finally:
        store.dispose()
    if as_json:
        print_json(view.to_dict(now))
    elif changed:
        _say(f"API token {view.id} of clerk {view.clerk} revoked")
    else:
        _say(f"API token {view.id} of clerk {view.clerk} was already revoked "
             f"({_day(view.revoked_at)})")
