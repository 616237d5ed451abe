"""`openjpki rules …`: ask the JPKI rules (RULES.md) a question (CLI.md).

Thin: parse, call :mod:`openjpki.rules`, print. A refusal (renewal not open, invalid PIN,
closed office) is printed with its rule and exits 1; bad dates or options exit 2 with one
line (``fail``).
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from openjpki import rules
from openjpki.cli.app import app, console, fail, print_json, settings

rules_app = typer.Typer(help="Ask the JPKI rules (RULES.md) a question.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _date(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if not _ISO_DATE.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a date YYYY-MM-DD: {value!r}")


def _datetime(option: str, value: str) -> datetime:
    try:
        return rules.to_jst(datetime.fromisoformat(value))
    except ValueError:
        fail(f"{option}: not a date-time YYYY-MM-DDTHH:MM (Japan time): {value!r}")


def _kind(value: str, choices: tuple[str, ...]) -> str:
    v = value.strip().lower()
    if v not in choices:
        fail(f"--kind: must be one of {', '.join(choices)}, not {value!r}")
    return v


def _line(ok: bool, rule: str, text: str) -> None:
    mark = "[green]yes[/green]" if ok else "[red]no[/red]"
    console.print(f"{mark} [bold]{rule}[/bold] {escape(text)}", soft_wrap=True)


@rules_app.command("expiry")
def expiry_cmd(
    birth: str = typer.Option(..., "--birth", help="Holder's date of birth (YYYY-MM-DD)."),
    issued: str = typer.Option(..., "--issued", help="Day of issue (YYYY-MM-DD)."),
    card_expiry: str = typer.Option(..., "--card-expiry", help="The card's expiry (YYYY-MM-DD)."),
    kind: str = typer.Option("sign", "--kind", help="sign or auth."),
    auth_expiry: Optional[str] = typer.Option(
        None, "--auth-expiry",
        help="Expiry of the AUTH certificate on the card (caps SIGN, R2.2)."),
    stay_until: Optional[str] = typer.Option(
        None, "--stay-until", help="End of a foreign resident's period of stay (R2.3)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Certificate expiry (R2.1–R2.4): the last valid day and the rule that set it."""
    k = _kind(kind, ("sign", "auth"))
    b, i = _date("--birth", birth), _date("--issued", issued)
    c = _date("--card-expiry", card_expiry)
    a, s = _date("--auth-expiry", auth_expiry), _date("--stay-until", stay_until)
    try:
        result = rules.certificate_expiry(k, b, i, c, a, s)
    except ValueError as e:
        fail(str(e))
    if json_out:
        print_json(result.to_dict())
        return
    console.print(f"{k.upper()} expires on [bold]{result.expires_on.isoformat()}[/bold] "
                  f"([bold]{result.rule}[/bold]: {escape(result.basis.en)} / "
                  f"{escape(result.basis.ja)})", soft_wrap=True)


@rules_app.command("renewal")
def renewal_cmd(
    expiry: str = typer.Option(..., "--expiry", help="The certificate's expiry (YYYY-MM-DD)."),
    on: str = typer.Option(..., "--on", help="The day of the renewal (YYYY-MM-DD)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """May a renewal be done on that day (R3.1–R3.3)? Exit 1 when not."""
    e, o = _date("--expiry", expiry), _date("--on", on)
    decision = rules.renewal_decision(e, o)
    opens = rules.renewal_opens_on(e)
    if json_out:
        print_json({"allowed": decision.allowed, "opens_on": opens.isoformat(),
                    "rule": decision.rule, "message_ja": decision.message_ja,
                    "message_en": decision.message_en})
    else:
        _line(decision.allowed, decision.rule,
              f"{decision.message_en} / {decision.message_ja}")
    if not decision.allowed:
        raise typer.Exit(1)


@rules_app.command("pin")
def pin_cmd(
    value: str = typer.Argument(..., help="The PIN to check (use -- before a value that "
                                "starts with '-')."),
    kind: str = typer.Option(..., "--kind", help="sign, auth or card."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Is this a valid PIN of that kind (R1.3, R1.6)? Exit 1 when not. The PIN is never
    printed back."""
    decision = rules.validate_pin(_kind(kind, ("sign", "auth", "card")), value)
    if json_out:
        print_json({"valid": decision.allowed, "rule": decision.rule,
                    "message_ja": decision.message_ja, "message_en": decision.message_en})
    else:
        _line(decision.allowed, decision.rule,
              f"{decision.message_en} / {decision.message_ja}")
    if not decision.allowed:
        raise typer.Exit(1)


@rules_app.command("calendar")
def calendar_cmd(
    ctx: typer.Context,
    at: str = typer.Option(..., "--at", help="The moment, YYYY-MM-DDTHH:MM (Japan time)."),
    office: Optional[str] = typer.Option(
        None, "--office", help="An office id from the calendar file, or 'kiosk'. "
        "Without it, every office and the kiosk are listed."),
    config: Optional[Path] = typer.Option(
        None, "--config", help="Calendar TOML file (default: offices.toml in --home if "
        "present, else the packaged default)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Is the counter (R5.8) or the kiosk (R6.4/R7.2) open at that moment, and when does it
    open next? With --office, exit 1 when closed."""
    moment = _datetime("--at", at)
    if config is None:
        home_file = settings(ctx).home / "offices.toml"
        config = home_file if home_file.is_file() else None
    try:
        calendar = rules.load_calendar(config)
        ids = [office] if office else [*calendar.offices, "kiosk"]
        answers = []
        for oid in ids:
            if oid == "kiosk":
                d = rules.kiosk_open(moment, "R6.4", calendar.kiosk_hours)
            else:
                d = rules.counter_open(calendar.office(oid), moment)
            answers.append((oid, d))
    except rules.CalendarConfigError as e:
        fail(str(e))
    rows = [{"office": oid, "open": d.allowed, "rule": d.rule,
             "opens_at": getattr(d, "opens_at", None) and d.opens_at.isoformat(),
             "message_ja": d.message_ja, "message_en": d.message_en} for oid, d in answers]
    if json_out:
        print_json(rows[0] if office else rows)
    else:
        for oid, d in answers:
            _line(d.allowed, d.rule, f"{oid}: {d.message_en}")
    if office and not answers[0][1].allowed:
        raise typer.Exit(1)
