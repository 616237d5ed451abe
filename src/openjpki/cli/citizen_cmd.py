"""`openjpki notices run` (the expiry-notice batch, R3.4) and `openjpki client sign-pdf`
(PAdES signing with the card through OpenSC's PKCS#11 module). See shared/spec/CLI.md.

Both are thin: parse, call the service, print. A refusal (a wrong or locked PIN, a revoked
certificate) prints its rule in Japanese and English and exits 1; bad usage exits 2.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import List, NoReturn, Optional

import typer

from openjpki.cli.app import app, console, err_console, fail, print_json, settings
from openjpki.cli.card_cmd import client_app

notices_app = typer.Typer(help="Expiry notices (有効期限通知書, R3.4).", no_args_is_help=True)
app.add_typer(notices_app, name="notices")


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _refuse(rule: str, message_ja: str, message_en: str) -> NoReturn:
    err_console.print(f"{rule}: {message_ja}", markup=False, highlight=False, soft_wrap=True)
    err_console.print(f"{rule}: {message_en}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: not a date YYYY-MM-DD: {value!r}")


@notices_app.command("run")
def notices_run(
    ctx: typer.Context,
    on: str = typer.Option(..., "--on", help="The day of the batch (YYYY-MM-DD)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Where the letters (PDF) go "
                                       "(default <home>/letters)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Send the expiry notices due on that day, each with its inquiry form, once (R3.4)."""
    from openjpki.rules import JST
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_home import open_authorities
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.letters_pdf import FontMissing
    from openjpki.services.notices import run_expiry_notices

    day = _date(on, "--on")
    s = settings(ctx)
    out_dir = out if out is not None else s.home / "letters"
    try:
        authority = open_authorities(s)
    except (AuthorityError, SetupError) as e:
        fail(str(e))
    now = dt.datetime.now(JST)  # the outermost layer reads the clock
    try:
        if json_out:
            batch = run_expiry_notices(authority.store, day, now=now, out_dir=out_dir)
        else:
            batch = _with_progress(lambda **kw: run_expiry_notices(
                authority.store, day, now=now, out_dir=out_dir, **kw))
    except FontMissing as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot write the letters under {out_dir}: {e.strerror or e}")
    finally:
        authority.store.dispose()
    if json_out:
        print_json(batch.to_dict())
        return
    first, last = batch.window
    _say(f"{day.isoformat()}: {batch.selected} expiry notice(s) sent for certificates expiring "
         f"{first.isoformat()} to {last.isoformat()} (R3.4)"
         + (f"; {batch.skipped} already sent by another batch" if batch.skipped else ""))
    if batch.letters:
        _say(f"letters in {batch.letters[0].parent}")


def _with_progress(run):
    from rich.progress import (
        BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn,
    )
    with Progress(TextColumn("有効期限通知書 / expiry notices"), BarColumn(),
                  MofNCompleteColumn(), TimeRemainingColumn(), console=err_console,
                  transient=False) as progress:
        task = progress.add_task("notices", total=None)
        return run(on_total=lambda n: progress.update(task, total=n),
                   progress=lambda k: progress.advance(task, k))


@client_app.command("sign-pdf")
def client_sign_pdf(
    file: Path = typer.Argument(..., help="The PDF to sign."),
    out: Path = typer.Option(..., "--out", help="Where the signed PDF goes."),
    pin: Optional[str] = typer.Option(None, "--pin", help="The SIGN PIN (署名用)."),
    reader: Optional[str] = typer.Option(
        None, "--reader", help="Reader name (or a unique part) or number; default: the one "
        "reader with a card."),
    crl: List[Path] = typer.Option([], "--crl", help="A CRL file (DER) to embed as well; "
                                   "may be repeated."),
    no_revocation_info: bool = typer.Option(
        False, "--no-revocation-info", help="Do not fetch or embed OCSP/CRL data (and do not "
        "check the certificate's status first)."),
    reason: Optional[str] = typer.Option(None, "--reason", help="The signing reason."),
    location: Optional[str] = typer.Option(None, "--location"),
    module: Optional[str] = typer.Option(None, "--module", help="The PKCS#11 module "
                                         "(default OpenSC's)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Sign a PDF with the card's SIGN key (PAdES, SHA-256) via OpenSC's PKCS#11 module,
    embedding the OCSP response and CRL that show the certificate good."""
    from openjpki.services.pdfsign import PdfSignError, PinRefused, Revoked, sign_pdf

    if pin is None:
        if not sys.stdin.isatty():
            fail("--pin: give the SIGN PIN with the option (no terminal to ask on)")
        pin = typer.prompt("SIGN PIN", hide_input=True)
    try:
        signed = sign_pdf(file, out, pin, reader=reader, module=module,
                          revocation=not no_revocation_info, crl_files=crl, reason=reason,
                          location=location)
    except (PinRefused, Revoked) as e:
        _refuse(e.refusal.rule, e.refusal.message_ja, e.refusal.message_en)
    except PdfSignError as e:
        fail(str(e))
    if json_out:
        print_json(signed.to_dict())
    else:
        _say(f"signed {out} ({signed.subject}, serial {signed.serial}; revocation data: "
             f"{signed.ocsp_responses} OCSP, {signed.crls} CRL)")
