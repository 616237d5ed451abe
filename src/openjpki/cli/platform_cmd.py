"""`openjpki platform …`: the platform API's service providers and encryption keys.

    openjpki platform provider add ID [--label TEXT] [--json]
    openjpki platform provider list [--json]
    openjpki platform provider disable ID [--json]   (enable ID undoes it)
    openjpki platform key list [--json]
    openjpki platform key rotate [--grace-hours N] [--json]

A refused change (an id already there, an unknown id) prints one line and exits 1.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import typer

from openjpki.cli.app import app, authority_service, console, err_console, fail, print_json, settings

platform_app = typer.Typer(help="The platform API (/verify/…): service providers and encryption keys.",
                           no_args_is_help=True)
provider_app = typer.Typer(help="Service providers: who may call the platform (by sender id).",
                           no_args_is_help=True)
key_app = typer.Typer(help="The platform's JWE keys (listed by /key/jwks.json).", no_args_is_help=True)
app.add_typer(platform_app, name="platform")
platform_app.add_typer(provider_app, name="provider")
platform_app.add_typer(key_app, name="key")
JSON = typer.Option(False, "--json", help="Print JSON.")


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _refused(message: str) -> None:
    err_console.print(f"refused: {message}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _show(p: dict) -> str:
    state = "enabled" if p["enabled"] else f"disabled since {p['disabled_at']}"
    label = f" ({p['label']})" if p["label"] else ""
    return f"{p['id']}{label}: {state}, made by {p['origin']} on {p['created_at']}"


def _change(ctx: typer.Context, action, as_json: bool) -> None:
    from openjpki.services.platform import ProviderError

    store = authority_service(ctx).store
    try:
        p = action(store)
    except ProviderError as e:
        _refused(str(e))
    finally:
        store.dispose()
    print_json(p) if as_json else _say(_show(p))


@provider_app.command("add")
def provider_add(ctx: typer.Context, provider_id: str = typer.Argument(..., help="The sender id."),
                 label: str = typer.Option("", "--label", help="Who it is, for the operators."),
                 as_json: bool = JSON) -> None:
    """Admit a service provider (in production only admitted providers are served)."""
    from openjpki.services.platform import add_provider
    _change(ctx, lambda store: add_provider(store, provider_id, _now(), label=label), as_json)


@provider_app.command("disable")
def provider_disable(ctx: typer.Context, provider_id: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """Refuse a provider's calls from now on (401); its registrations are kept."""
    from openjpki.services.platform import set_enabled
    _change(ctx, lambda store: set_enabled(store, provider_id, False, _now()), as_json)


@provider_app.command("enable")
def provider_enable(ctx: typer.Context, provider_id: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """Serve a disabled provider again."""
    from openjpki.services.platform import set_enabled
    _change(ctx, lambda store: set_enabled(store, provider_id, True, _now()), as_json)


@provider_app.command("list")
def provider_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every provider, oldest first."""
    from openjpki.services.platform import list_providers

    store = authority_service(ctx).store
    try:
        providers = list_providers(store)
    finally:
        store.dispose()
    if as_json:
        print_json({"providers": providers})
        return
    for p in providers:
        _say(_show(p))
    if not providers:
        _say("no providers (in the sandbox any sender is admitted on first use)")


@key_app.command("list")
def key_list(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The current key and the previous one (and until when it is honoured)."""
    from openjpki.services.platform import PlatformKeyError, describe

    try:
        info = describe(settings(ctx).keys_dir, _now())
    except PlatformKeyError as e:
        fail(str(e))
    if as_json:
        print_json(info)
        return
    _say(f"current: {info['current']} (since {info['rotated_at']})")
    if info.get("previous"):
        state = "honoured" if info["previous_honoured"] else "no longer honoured"
        _say(f"previous: {info['previous']} ({state}, until {info['previous_until']})")


@key_app.command("rotate")
def key_rotate(ctx: typer.Context, grace_hours: float = typer.Option(
        24.0, "--grace-hours", min=0, max=24 * 90, help="How long the old key is still listed and accepted."),
        as_json: bool = JSON) -> None:
    """Make a new current key; the old one stays in the JWKS and decrypts for the grace."""
    from openjpki.services.platform import PlatformKeyError, rotate

    s = settings(ctx)
    if not s.keys_dir.exists():
        fail(f"no keys in {s.keys_dir}: run `openjpki init` first")
    try:
        info = rotate(s.keys_dir, _now(), grace=timedelta(hours=grace_hours))
    except PlatformKeyError as e:
        fail(str(e))
    if as_json:
        print_json(info)
        return
    _say(f"new current key: {info['current']}; previous {info['previous']} honoured until "
         f"{info['previous_until']}")
