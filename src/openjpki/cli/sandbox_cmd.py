"""``openjpki sandbox …``: the sandbox controls for relying-party testing (CLI.md).

    sandbox status
    sandbox time show | set D [--freeze] | advance 90d | reset          → {"now": ISO datetime}
    sandbox fault ocsp tryLater|internalError|unauthorized|stale|delay|off
                  [--delay-ms N] [--kind sign|auth] [--serial HEX]       → {"ocsp": str, "crl": str}
    sandbox fault crl stale|missing|unavailable|off [--kind sign|auth]  → {"ocsp": str, "crl": str}
    sandbox fault show | clear
    sandbox pin CARD --kind auth|sign|card|input|input_a|input_b|face_a|face_b
                     (--tries N | --block | --unblock)
    sandbox card show CARD | end CARD --as returned|voided|lost|expired [--at D]
    sandbox cert revoke SERIAL --reason NAME [--at D] | hold SERIAL [--at D]
    sandbox resident create [--state S …] [--name N] | change ID [--address A] [--name N]
                  [--birth-date D] [--sex S]

Refused (one line naming sandbox mode, exit 1) unless the home runs in sandbox mode
(services.sandbox_mode: SQLite by default; ``[service] mode`` in openjpki.toml). Every
action runs at the sandbox's now; the wall clock is read here only. Bad usage exits 2.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Iterator, List, Optional

import typer

from openjpki.cli.app import app, console, fail, print_json, settings

sandbox_app = typer.Typer(help="Sandbox controls for relying-party testing: the clock, state "
                          "on demand, responder faults (sandbox mode only).",
                          no_args_is_help=True)
time_app = typer.Typer(help="The sandbox clock.", no_args_is_help=True)
fault_app = typer.Typer(help="Faults injected into the OCSP responder and the CRLs.",
                        no_args_is_help=True)
card_app = typer.Typer(help="A card's state: its end (R4.4).", no_args_is_help=True)
cert_app = typer.Typer(help="A certificate's status, any reason, any date.",
                       no_args_is_help=True)
resident_app = typer.Typer(help="Residents with cards in given states; changes of facts.",
                           no_args_is_help=True)
app.add_typer(sandbox_app, name="sandbox")
for _sub, _name in ((time_app, "time"), (fault_app, "fault"), (card_app, "card"),
                    (cert_app, "cert"), (resident_app, "resident")):
    sandbox_app.add_typer(_sub, name=_name)

JSON = typer.Option(False, "--json", help="Print the answer as JSON.")
AT = typer.Option(None, "--at", help="When (default the sandbox's now): a date or ISO "
                  "date-time (Japan time when no zone); may be in the past.")
KINDS = ("sign", "auth")


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _real() -> datetime:
    return datetime.now(timezone.utc)


def _require_sandbox(ctx: typer.Context, as_json: bool) -> None:
    """Exit 1 with one line unless the home runs in sandbox mode."""
    from openjpki.services.sandbox_mode import ModeConfigError, SandboxRefused, require_sandbox
    from openjpki.services.sandbox_mode import resolve_mode

    try:
        require_sandbox(resolve_mode(settings(ctx)))
    except ModeConfigError as e:
        fail(str(e))
    except SandboxRefused as e:
        if as_json:
            print_json({"outcome": "refused", **e.mode.to_dict(), "message_ja": e.message_ja,
                        "message_en": e.message_en})
        else:
            _say(f"refused: {e.message_en} / {e.message_ja}")
        raise typer.Exit(1)


@contextmanager
def _store(ctx: typer.Context, as_json: bool) -> Iterator:
    """The store of this (sandbox) home; service errors become one line (exit 2)."""
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_home import open_authorities
    from openjpki.services.authority_setup import SetupError

    _require_sandbox(ctx, as_json)
    try:
        service = open_authorities(settings(ctx))
    except (AuthorityError, SetupError) as e:
        fail(str(e))
    try:
        yield service.store
    except ValueError as e:
        fail(str(e))
    finally:
        service.store.dispose()


@contextmanager
def _counter(ctx: typer.Context, as_json: bool) -> Iterator:
    """The counter of this (sandbox) home, actor ``sandbox``; errors one line (exit 2),
    refusals by a rule (R4.3) printed with the rule (exit 1)."""
    from openjpki.card import CardError, CardStoreError
    from openjpki.services.authority import AuthorityError, TransitionRefused
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.counter import ConfigError, CounterContext
    from openjpki.services.counter.secrets import SecretBoxError

    _require_sandbox(ctx, as_json)
    try:
        c = CounterContext.from_settings(settings(ctx), actor="sandbox")
    except (AuthorityError, SetupError, ConfigError, SecretBoxError) as e:
        fail(str(e))
    try:
        yield c
    except TransitionRefused as e:
        r = e.refusal
        if as_json:
            print_json(r.to_dict())
        else:
            _say(f"refused ({r.rule}): {r.message_en} / {r.message_ja}")
        raise typer.Exit(1)
    except (ValueError, CardError, CardStoreError, AuthorityError, SecretBoxError) as e:
        fail(str(e))
    finally:
        c.close()


def _now(store) -> datetime:
    from openjpki.services.sandbox_clock import read_clock

    return read_clock(store).now(_real())


def _moment(value: Optional[str], store, option: str = "--at") -> datetime:
    from openjpki.services.sandbox_clock import parse_moment

    if value is None:
        return _now(store)
    try:
        return parse_moment(value)
    except ValueError as e:
        fail(f"{option}: {e}")


# --- status and time ----------------------------------------------------------------------

@sandbox_app.command("status")
def status_cmd(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The mode, the sandbox's now and the faults switched on."""
    from openjpki.services.sandbox_faults import fault_summary

    with _store(ctx, as_json) as store:
        from openjpki.services.sandbox_clock import read_clock
        from openjpki.services.sandbox_mode import resolve_mode

        mode = resolve_mode(settings(ctx))
        clock = read_clock(store).to_dict(_real())
        faults = fault_summary(store)["faults"]
    if as_json:
        print_json({**mode.to_dict(), **clock, "faults": faults})
        return
    _say(f"mode: {mode.name} ({mode.source})")
    _say(f"now: {clock['now']} ({clock['mode']} clock)")
    _say("faults: " + (", ".join(f"{f['responder']} {f['fault']} ({f['scope']})"
                                 for f in faults) or "none"))


def _print_clock(setting, as_json: bool) -> None:
    out = setting.to_dict(_real())
    if as_json:
        print_json(out)
    else:
        _say(f"{out['now']} ({out['mode']} clock)")


@time_app.command("show")
def time_show(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The sandbox's now."""
    from openjpki.services.sandbox_clock import read_clock

    with _store(ctx, as_json) as store:
        setting = read_clock(store)
    _print_clock(setting, as_json)


@time_app.command("set")
def time_set(ctx: typer.Context,
             moment: str = typer.Argument(..., metavar="D", help="A date YYYY-MM-DD (12:00 "
                                          "Japan time) or an ISO date-time."),
             freeze: bool = typer.Option(False, "--freeze", help="Stand still there (default: "
                                         "time keeps running from that moment)."),
             as_json: bool = JSON) -> None:
    """Set the sandbox clock: certificates expire, renewal windows open, notices fall due,
    OCSP and CRL dates follow, as if that moment had come."""
    from openjpki.services.sandbox_clock import parse_moment, set_clock

    with _store(ctx, as_json) as store:
        try:
            when = parse_moment(moment)
        except ValueError as e:
            fail(str(e))
        setting = set_clock(store, when, real=_real(), freeze=freeze)
    _print_clock(setting, as_json)


@time_app.command("advance")
def time_advance(ctx: typer.Context,
                 by: str = typer.Argument(..., metavar="DURATION", help="90d, 12h, 30m, 1d12h "
                                          "(to go back: -- -1d)."),
                 as_json: bool = JSON) -> None:
    """Move the sandbox clock on by a duration."""
    from openjpki.services.sandbox_clock import advance_clock, parse_duration

    with _store(ctx, as_json) as store:
        try:
            delta = parse_duration(by)
        except ValueError as e:
            fail(str(e))
        setting = advance_clock(store, delta, real=_real())
    _print_clock(setting, as_json)


@time_app.command("reset")
def time_reset(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Back to the real clock."""
    from openjpki.services.sandbox_clock import reset_clock

    with _store(ctx, as_json) as store:
        setting = reset_clock(store, real=_real())
    _print_clock(setting, as_json)


# --- faults -------------------------------------------------------------------------------

def _print_faults(out: dict, as_json: bool) -> None:
    if as_json:
        print_json(out)
        return
    delay = f", delay {out['ocsp_delay_ms']} ms" if out.get("ocsp_delay_ms") else ""
    _say(f"ocsp: {out['ocsp']}{delay}; crl: {out['crl']} (scope {out['scope']})")
    others = [f for f in out["faults"]]
    if others:
        _say("switched on: " + ", ".join(f"{f['responder']} {f['fault']} ({f['scope']})"
                                          for f in others))


@fault_app.command("ocsp")
def fault_ocsp(ctx: typer.Context,
               fault: str = typer.Argument(..., metavar="FAULT", help="tryLater, internalError, "
                                           "unauthorized, stale, delay or off."),
               delay_ms: int = typer.Option(0, "--delay-ms", min=0, max=60_000,
                                            help="Answer N ms late."),
               kind: Optional[str] = typer.Option(None, "--kind", help="Only this authority "
                                                  "(sign or auth)."),
               serial: Optional[str] = typer.Option(None, "--serial", help="Only this "
                                                    "certificate (hexadecimal serial)."),
               as_json: bool = JSON) -> None:
    """Inject an OCSP fault: an RFC 6960 error status, a stale (expired) response, or a late
    answer; ``off`` removes the fault of that scope."""
    from openjpki.services.sandbox_faults import set_fault

    with _store(ctx, as_json) as store:
        out = set_fault(store, "ocsp", fault, now=_now(store), kind=kind, serial=serial,
                        delay_ms=delay_ms)
    _print_faults(out, as_json)


@fault_app.command("crl")
def fault_crl(ctx: typer.Context,
              fault: str = typer.Argument(..., metavar="FAULT", help="stale, missing (404), "
                                          "unavailable (503) or off."),
              kind: Optional[str] = typer.Option(None, "--kind", help="Only this authority "
                                                 "(sign or auth)."),
              as_json: bool = JSON) -> None:
    """Inject a CRL fault: served past its nextUpdate, or not served at all."""
    from openjpki.services.sandbox_faults import set_fault

    with _store(ctx, as_json) as store:
        out = set_fault(store, "crl", fault, now=_now(store), kind=kind)
    _print_faults(out, as_json)


@fault_app.command("show")
def fault_show(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The faults switched on."""
    from openjpki.services.sandbox_faults import fault_summary

    with _store(ctx, as_json) as store:
        out = fault_summary(store)
    _print_faults(out, as_json)


@fault_app.command("clear")
def fault_clear(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every fault off."""
    from openjpki.services.sandbox_faults import clear_faults

    with _store(ctx, as_json) as store:
        out = clear_faults(store, now=_now(store))
    _print_faults(out, as_json)


# --- state on demand ----------------------------------------------------------------------

@sandbox_app.command("pin")
def pin_cmd(ctx: typer.Context,
            card: str = typer.Argument(..., help="Virtual card id (mnc-…) or card number."),
            kind: str = typer.Option(..., "--kind", help="auth, sign, card (住民基本台帳用), "
                                     "input (券面事項入力補助用), input_a, input_b, face_a, "
                                     "face_b (照合番号A/B) or face_birth."),
            tries: Optional[int] = typer.Option(None, "--tries", min=0, max=15,
                                                help="Tries left (R1.4: AUTH 3, SIGN 5, "
                                                "card and input 3, 照合番号A/B 10)."),
            block: bool = typer.Option(False, "--block", help="Block the PIN (tries left 0)."),
            unblock: bool = typer.Option(False, "--unblock", help="Full tries again, the PIN "
                                         "unchanged."),
            as_json: bool = JSON) -> None:
    """Set a PIN's tries left on the card, or block it (the card must not be in a reader)."""
    from openjpki.card.pins import PIN_TRIES, PinId
    from openjpki.services.sandbox_state import set_pin_tries

    try:
        pid = PinId.of(kind)
    except ValueError as e:
        fail(f"--kind: {e}")
    if sum((tries is not None, block, unblock)) != 1:
        fail("give exactly one of --tries N, --block, --unblock")
    n = 0 if block else PIN_TRIES[pid] if unblock else tries
    with _counter(ctx, as_json) as c:
        out = set_pin_tries(c, card, kind, n, now=_now(c.store))  # type: ignore[arg-type]
    if as_json:
        print_json(out)
    else:
        _say(f"{out['card_id']} {kind} PIN: {out['tries_left']} of {out['max_tries']} tries "
             f"left{' (locked)' if out['locked'] else ''}")


@card_app.command("show")
def card_show(ctx: typer.Context, card: str = typer.Argument(..., help="Virtual card id or "
                                                             "card number."),
              as_json: bool = JSON) -> None:
    """A card, its certificates and its PINs' tries left."""
    from openjpki.services.sandbox_state import card_view

    with _counter(ctx, as_json) as c:
        out = card_view(c, card)
    if as_json:
        print_json(out)
        return
    _say(f"{out['virtual_card_id']} ({out['state']}, expires {out['expires_on']}) "
         f"resident {out['resident_id']}")
    if out.get("security_code"):
        _say(f"  individual number {out['individual_number']}, security code "
             f"{out['security_code']}, 照合番号B {out['pin_b']}")
    for k, p in out["pins"].items():
        _say(f"  {k} PIN: {p['tries_left']} of {p['max_tries']} tries left")
    for cert in out["certificates"]:
        _say(f"  {cert['kind']} {cert['serial']} {cert['status']}"
             f"{' (' + cert['reason'] + ')' if cert['reason'] else ''} not after "
             f"{cert['not_after']}")


@card_app.command("end")
def card_end(ctx: typer.Context,
             card: str = typer.Argument(..., help="Virtual card id or card number."),
             how: str = typer.Option(..., "--as", help="returned, voided, lost or expired."),
             at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """The card ends, and both certificates with it (R4.4)."""
    from openjpki.services.sandbox_state import end_card

    with _counter(ctx, as_json) as c:
        out = end_card(c, card, how, at=_moment(at, c.store), now=_now(c.store))
    if as_json:
        print_json(out)
        return
    _say(f"{out['card']['virtual_card_id']}: {out['card']['state']} (R4.4)")
    for e in out["ended"]:
        _say(f"  {e['kind']} {e['serial']} {e['status']} ({e['reason']})")


def _print_cert(out: dict, as_json: bool) -> None:
    if as_json:
        print_json(out)
    else:
        _say(f"{out['serial']} {out['kind']} {out['status']} ({out['reason']}) at "
             f"{out['revoked_at']}")


@cert_app.command("revoke")
def cert_revoke(ctx: typer.Context,
                serial: str = typer.Argument(..., help="Serial number, hexadecimal."),
                reason: str = typer.Option(..., "--reason", help="Any RFC 5280 reason name "
                                           "(affiliationChanged, keyCompromise, …)."),
                at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """Revoke with any reason at any date (e.g. a SIGN revoked by a move yesterday)."""
    from openjpki.services.sandbox_state import change_certificate

    with _counter(ctx, as_json) as c:
        out = change_certificate(c, serial, reason, at=_moment(at, c.store), now=_now(c.store))
    _print_cert(out, as_json)


@cert_app.command("hold")
def cert_hold(ctx: typer.Context,
              serial: str = typer.Argument(..., help="Serial number, hexadecimal."),
              at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """Put on hold (certificateHold, R4.3) at any date."""
    from openjpki.services.sandbox_state import change_certificate

    with _counter(ctx, as_json) as c:
        out = change_certificate(c, serial, "certificateHold", at=_moment(at, c.store),
                                 now=_now(c.store))
    _print_cert(out, as_json)


@resident_app.command("create")
def resident_create(ctx: typer.Context,
                    state: Optional[List[str]] = typer.Option(
                        None, "--state", help="valid, renewal-window, expired, under-15, "
                        "adult-ward, sign-revoked-by-move, on-hold, revoked, card-lost, "
                        "auth-locked, sign-locked; repeatable, combined."),
                    name: Optional[str] = typer.Option(None, "--name", help="Surname U+3000 "
                                                       "given name (default a made-up one)."),
                    as_json: bool = JSON) -> None:
    """A resident with a card directly in the given states (the demo's sandbox PINs)."""
    from openjpki.services.sandbox_residents import create_resident

    with _counter(ctx, as_json) as c:
        made = create_resident(c, state or [], now=_now(c.store), name=name)
    if as_json:
        print_json({"residents": [made]})
        return
    _say(f"resident {made['id']} {made['name']}: {made['state']}, card {made['card_id']}")
    for cert in made["certificates"]:
        _say(f"  {cert['kind']} {cert['serial']} {cert['status']} not after {cert['not_after']}")


@resident_app.command("change")
def resident_change(ctx: typer.Context,
                    resident_id: int = typer.Argument(..., metavar="ID", min=1, max=2 ** 31 - 1),
                    address: Optional[str] = typer.Option(None, "--address"),
                    name: Optional[str] = typer.Option(None, "--name"),
                    birth_date: Optional[str] = typer.Option(None, "--birth-date",
                                                             help="YYYY-MM-DD."),
                    sex: Optional[str] = typer.Option(None, "--sex", help="male, female, "
                                                      "unknown."),
                    as_json: bool = JSON) -> None:
    """Change a resident's facts as register events: SIGN is revoked (R4.1), AUTH kept."""
    from openjpki.services.sandbox_state import change_facts

    born = None
    if birth_date is not None:
        try:
            born = date.fromisoformat(birth_date)
        except ValueError:
            fail(f"--birth-date must be a date YYYY-MM-DD (not {birth_date!r})")
    with _counter(ctx, as_json) as c:
        out = change_facts(c, resident_id, now=_now(c.store), address=address, name=name,
                           birth_date=born, sex=sex)
    if as_json:
        print_json(out)
        return
    for e in out["events"]:
        _say(f"{e['event']}: {', '.join(e['changed'])} ({e['rule']})")
    for x in out["ended"]:
        _say(f"  {x['kind']} {x['serial']} {x['status']} ({x['reason']})")
