"""``openjpki demo``, ``worker``, ``queue …`` and ``authorities …``: the running service's
commands besides ``serve`` (CLI.md). Thin: parse, call services.demo / services.deferred*,
print. The wall clock is read here, never below.

- ``demo [--json]`` seeds residents with cards in every interesting state (see
  :mod:`openjpki.services.demo`); a second run changes nothing and prints the same.
- ``worker [--drain] [--lease-seconds S]`` completes deferred counter work (R5.9) until
  stopped (SIGTERM, Ctrl-C) or, with ``--drain``, until nothing is runnable (the queue done,
  or the authorities off). ``serve`` runs the same worker in a background thread.
- ``queue list|show|requeue`` the deferred items; ``authorities status|off|on`` the switch
  that tells every process on the store whether the authorities can be used;
  ``authorities roots`` every root generation, ``authorities rollover --kind K`` a new one.
"""

from __future__ import annotations

import signal
import threading
from datetime import datetime, timezone
from typing import Optional

import typer

from openjpki.cli.app import (
    app, authority_service, console, fail, print_json, require_private_home, settings,
)
from openjpki.labels import label

queue_app = typer.Typer(help="Deferred counter work (R5.9): list, show, requeue.",
                        no_args_is_help=True)
authorities_app = typer.Typer(help="The authorities: whether the counter may use them now (R5.9), "
                              "their root generations.", no_args_is_help=True)
app.add_typer(queue_app, name="queue")
app.add_typer(authorities_app, name="authorities")

STATES = ("queued", "running", "done", "refused", "failed")


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _work_clock(ctx: typer.Context, store):
    """The moment deferred work is done at: the sandbox clock when the home is a sandbox,
    else the wall clock."""
    from openjpki.services.sandbox_clock import read_clock
    from openjpki.services.sandbox_mode import resolve_mode

    try:
        sandbox = resolve_mode(settings(ctx)).sandbox
    except Exception:  # noqa: BLE001 — no sandbox settings: the wall clock
        sandbox = False
    if not sandbox:
        return _now

    def now() -> datetime:
        real = _now()
        try:
            return read_clock(store).now(real)
        except Exception:  # noqa: BLE001 — no sandbox clock kept in this store
            return real
    return now


def _counter(ctx: typer.Context):
    """(CounterContext, AuthorityHealth) of the home; exit 2 with one line if unusable."""
    from openjpki.services.authority import NotInitialised
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.counter.context import ConfigError
    from openjpki.services.counter.secrets import SecretBoxError
    from openjpki.services.deferred_health import guarded_counter

    try:
        return guarded_counter(settings(ctx), actor="cli")
    except (NotInitialised, SetupError, ConfigError, SecretBoxError) as e:
        fail(str(e))


# --- demo ------------------------------------------------------------------------------------

@app.command("demo")
def demo_cmd(ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help=(
        "Print {residents: [{id, name, state, card_id, pins}]}."))) -> None:
    """Seed a municipality and residents with cards in every interesting state (valid, in
    the renewal window, SIGN revoked by a move, AUTH locked, on hold, under 15, adult ward,
    expired); safe to run twice."""
    from openjpki.cli.serve_start import seed_demo
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.counter.context import ConfigError
    from openjpki.services.demo import DemoError

    try:
        result = seed_demo(settings(ctx), _now())
    except (AuthorityError, SetupError, ConfigError, DemoError, ValueError) as e:
        fail(str(e))
    if as_json:
        print_json(result.to_dict())
        return
    _say("Demo residents (seeded now):" if result.created else
         "The demo was seeded before; its residents:")
    for r in result.residents:
        pins = r["pins"]
        sign = pins["sign"] or "-"
        _say(f"  {r['id']:>4}  {r['state']:<22} {r['card_id']}  {r['name']}  "
             f"(PINs auth {pins['auth']}, sign {sign}, card {pins['card']})")
    for note in result.notes:
        _say(f"note: {note}")
    if result.residents:
        _say("Put a card into the virtual reader (pcscd with vpcd running):")
        _say(f"  openjpki card insert {result.residents[0]['card_id']}")


# --- the worker ------------------------------------------------------------------------------

@app.command("worker")
def worker_cmd(
    ctx: typer.Context,
    drain: bool = typer.Option(False, "--drain", help="Stop when nothing is runnable: "
                               "nothing queued or running, or the authorities off "
                               "(otherwise run until SIGTERM or Ctrl-C)."),
    lease_seconds: float = typer.Option(60.0, "--lease-seconds", min=1.0, max=86400.0,
                                        help="How long a claimed item is this worker's."),
    idle: float = typer.Option(0.5, "--idle", min=0.01, max=60.0,
                               help="Seconds to wait when there is nothing to do."),
    sweep_age: float = typer.Option(900.0, "--sweep-age", min=0.0, help="Remove cards "
                                    "left by interrupted work older than this (seconds)."),
    as_json: bool = typer.Option(False, "--json", help="Print the counts at the end."),
) -> None:
    """Complete deferred counter work (R5.9): each item exactly once, the card returned by
    本人限定郵便."""
    from openjpki.services.deferred_worker import DeferredWorker

    require_private_home(ctx)
    counter, health = _counter(ctx)
    # The work at the home's now (the sandbox clock in a sandbox); the queue itself is on
    # the real clock (CounterContext.queue_clock), as in `serve`.
    worker = DeferredWorker(counter, health, clock=_work_clock(ctx, counter.store),
                            lease=lease_seconds)
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()
    old = {sg: signal.signal(sg, _stop) for sg in (signal.SIGTERM, signal.SIGINT)}
    try:
        gone = worker.sweep_orphan_cards(min_age=sweep_age)
        if drain:
            counts = worker.drain(stop=stop, idle=idle)
        else:
            worker.run(stop, idle=idle)
            counts = {}
    finally:
        for sg, handler in old.items():
            signal.signal(sg, handler)
        counter.close()
    if as_json:
        print_json({"worker": worker.id, "outcomes": counts, "orphan_cards_removed": gone})
    else:
        _say(f"worker {worker.id}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
                                       or "nothing done"))


# --- queue -----------------------------------------------------------------------------------

def _print_item(item: dict) -> None:
    err = f" — {item['last_error']}" if item.get("last_error") else ""
    _say(f"{item['id']:>6} {label('queue_state', item['state'], 'en'):<8} "
         f"{label('procedure', item['procedure'], 'en'):<28} resident "
         f"{item['resident_id']} application {item['application_id']} attempts "
         f"{item['attempts']}{err} — {label('procedure', item['procedure'])}"
         f"（{label('queue_state', item['state'])}）")


@queue_app.command("list")
def queue_list(ctx: typer.Context,
               state: Optional[str] = typer.Option(None, "--state", help=", ".join(STATES)),
               limit: int = typer.Option(100, "--limit", min=1, max=100000),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """The deferred items, oldest first, with counts by state."""
    from openjpki.services.deferred import list_items, queue_counts

    if state is not None and state not in STATES:
        fail(f"--state must be one of: {', '.join(STATES)} (not {state!r})")
    counter, _ = _counter(ctx)
    try:
        items = list_items(counter, state=state, limit=limit)
        counts = queue_counts(counter)
    finally:
        counter.close()
    if as_json:
        print_json({"counts": counts, "items": items})
        return
    for item in items:
        _print_item(item)
    _say(", ".join(f"{label('queue_state', k, 'en')} {v}" for k, v in counts.items()) + " — "
         + "、".join(f"{label('queue_state', k)} {v}件" for k, v in counts.items()))


def _one(ctx: typer.Context, call, as_json: bool) -> None:
    from openjpki.services.counter.residents import InputError

    counter, _ = _counter(ctx)
    try:
        item = call(counter)
    except InputError as e:
        fail(str(e))
    finally:
        counter.close()
    if as_json:
        print_json(item)
    else:
        _print_item(item)


@queue_app.command("show")
def queue_show(ctx: typer.Context, item_id: int = typer.Argument(..., min=1, max=2 ** 31 - 1),
               as_json: bool = typer.Option(False, "--json")) -> None:
    """One deferred item (never its PINs)."""
    from openjpki.services.deferred import get_item

    _one(ctx, lambda c: get_item(c, item_id), as_json)


@queue_app.command("requeue")
def queue_requeue(ctx: typer.Context, item_id: int = typer.Argument(..., min=1, max=2 ** 31 - 1),
                  as_json: bool = typer.Option(False, "--json")) -> None:
    """Put a failed item back in the queue."""
    from openjpki.services.deferred import requeue

    _one(ctx, lambda c: requeue(c, item_id, now=_now()), as_json)


# --- authorities -----------------------------------------------------------------------------

def _availability(ctx: typer.Context, change: Optional[bool], reason: Optional[str],
                  as_json: bool) -> None:
    from openjpki.services.deferred import queue_counts

    counter, health = _counter(ctx)
    try:
        if change is not None:
            health.set_switch(change, reason=reason, at=_now(), actor="cli")
        state = health.state().to_dict()
        state["queue"] = queue_counts(counter)
    finally:
        counter.close()
    if as_json:
        print_json(state)
        return
    _say("authorities: " + ("available" if state["switch"]["available"] else
                            f"off ({state['switch']['reason']})"))
    _say("queue: " + ", ".join(f"{k} {v}" for k, v in state["queue"].items()))


@authorities_app.command("status")
def authorities_status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")
                       ) -> None:
    """The switch and the queue."""
    _availability(ctx, None, None, as_json)


@authorities_app.command("off")
def authorities_off(ctx: typer.Context,
                    reason: str = typer.Option("maintenance", "--reason", help="Why (shown "
                                               "with every deferred application)."),
                    as_json: bool = typer.Option(False, "--json")) -> None:
    """Take the authorities out of use: the counter defers the work that needs them."""
    if not reason.strip() or len(reason) > 200 or any(ord(c) < 0x20 for c in reason):
        fail("--reason must be a non-empty text of at most 200 characters")
    _availability(ctx, False, reason, as_json)


@authorities_app.command("on")
def authorities_on(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Put the authorities back in use: workers complete the queue."""
    _availability(ctx, True, None, as_json)


# --- root generations ------------------------------------------------------------------------

def _generation_dict(a, newest: int) -> dict:
    from cryptography.hazmat.primitives import serialization

    return {"kind": a.kind, "generation": a.generation, "current": a.generation == newest,
            "not_before": a.root.not_valid_before_utc.isoformat(),
            "not_after": a.root.not_valid_after_utc.isoformat(),
            "root": a.root.public_bytes(serialization.Encoding.PEM).decode()}


@authorities_app.command("roots")
def authorities_roots(ctx: typer.Context,
                      kind: Optional[str] = typer.Option(None, "--kind", help="sign or auth (default both)."),
                      as_json: bool = typer.Option(False, "--json")) -> None:
    """Every root generation (one DN, several keys: trust them all), newest marked current."""
    if kind is not None and kind not in ("sign", "auth"):
        fail("--kind must be sign or auth")
    service = authority_service(ctx)
    try:
        rows = []
        for k in ([kind] if kind else ["sign", "auth"]):
            gens = service.generations(k)
            rows += [_generation_dict(a, gens[-1].generation) for a in gens]
    finally:
        service.store.dispose()
    if as_json:
        print_json(rows)
        return
    for r in rows:
        _say(f"{r['kind']} generation {r['generation']}{' (current)' if r['current'] else ''}: "
             f"{r['not_before'][:10]} – {r['not_after'][:10]}")


@authorities_app.command("rollover")
def authorities_rollover(ctx: typer.Context,
                         kind: str = typer.Option(..., "--kind", help="sign or auth."),
                         as_json: bool = typer.Option(False, "--json")) -> None:
    """A new root generation of one authority: new key, same DN. It issues from now on; the
    earlier generations keep answering OCSP and publishing CRLs for their certificates
    (under /crl/gN/ for generation N)."""
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_setup import SetupError

    if kind not in ("sign", "auth"):
        fail("--kind must be sign or auth")
    service = authority_service(ctx)
    try:
        made = service.rollover(kind, now=_now())
    except (AuthorityError, SetupError) as e:
        fail(str(e))
    finally:
        service.store.dispose()
    out = _generation_dict(made, made.generation)
    if as_json:
        print_json(out)
        return
    _say(f"{kind} generation {made.generation} is current")
