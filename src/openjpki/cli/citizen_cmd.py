"""`openjpki notices run` (the expiry-notice batch, R3.4) and `openjpki client sign-pdf`
(PAdES signing with the card through OpenSC's PKCS#11 module). See docs/CLI.md.

Both are thin: parse, call the service, print. A refusal (a wrong or locked PIN, a revoked
certificate) prints its rule in Japanese and English and exits 1; bad usage exits 2.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import List, NoReturn, Optional

import typer

from openjpki.cli.app import app, console, err_console, fail, print_json, settings
from openjpki.cli.secrets_input import PIN_STDIN, Pins
from openjpki.cli.card_cmd import client_app
from openjpki.labels import ja_date
from openjpki.rules import to_jst

notices_app = typer.Typer(help="Expiry notices (有効期限通知書, R3.4).", no_args_is_help=True)
app.add_typer(notices_app, name="notices")


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _refuse(rule: str, message_ja: str, message_en: str) -> NoReturn:
    err_console.print(f"{rule}: {message_ja}", markup=False, highlight=False, soft_wrap=True)
    err_console.print(f"{rule}: {message_en}", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _now(home_settings, store) -> dt.datetime:
    """The wall clock; in sandbox mode the sandbox's clock (``openjpki sandbox time …``), so
    kiosk hours (R6.4, R7.2) and 24-hour windows can be tried at any moment."""
    real = dt.datetime.now(dt.timezone.utc)  # the outermost layer reads the clock
    try:
        from openjpki.services.sandbox_clock import read_clock
        from openjpki.services.sandbox_mode import resolve_mode

        if resolve_mode(home_settings).sandbox:
            return read_clock(store).now(real)
    except Exception:  # noqa: BLE001 — a store without sandbox settings: the wall clock
        pass
    return real


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
    now = _now(s, authority.store).astimezone(JST)
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
    cards = f" ({batch.cards} for a card alone)" if batch.cards else ""
    _say(f"{day.isoformat()}: {batch.selected} expiry notice(s){cards} sent for certificates "
         f"and cards expiring {first.isoformat()} to {last.isoformat()} (R3.4)"
         + (f"; {batch.skipped} already sent by another batch" if batch.skipped else ""))
    _say(f"  {ja_date(day)}：有効期限通知書 {batch.selected}通を送付（有効期限が{ja_date(first)}"
         f"から{ja_date(last)}までの電子証明書・カード）"
         + (f"、うち{batch.skipped}通は別の処理で送付済み" if batch.skipped else ""))
    if batch.letters:
        _say(f"letters in {batch.letters[0].parent} — 通知書の保存先")


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
    pin: Optional[str] = typer.Option(None, "--pin", help="The SIGN PIN (署名用; or "
                                      "$OPENJPKI_PIN, --pin-stdin, a prompt)."),
    pin_stdin: bool = PIN_STDIN,
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

    pin = Pins(pin_stdin).get(pin, "--pin", "SIGN PIN")
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


# --- kiosk … / konbini … -------------------------------------------------------------------------
kiosk_app = typer.Typer(help="PIN reset with the smartphone app and a kiosk (R6).",
                        no_args_is_help=True)
konbini_app = typer.Typer(help="Convenience-store issuance (コンビニ交付, R7).",
                          no_args_is_help=True)
app.add_typer(kiosk_app, name="kiosk")
app.add_typer(konbini_app, name="konbini")

CARD_OPT = typer.Option(None, "--card", help="Use this virtual card of the home's card store "
                        "directly (a sandbox kiosk) instead of a card in a PC/SC reader.")
KIOSK_READER_OPT = typer.Option(None, "--reader", help="Reader name (or a unique part) or "
                                "number; default: the first reader with a card.")


class _Reader:
    """The card on the kiosk: a virtual card opened in process (--card) or a PC/SC reader."""

    def __init__(self, ctx: typer.Context, card_id: Optional[str], reader: Optional[str]):
        self.settings, self.card_id, self.reader = settings(ctx), card_id, reader

    def __enter__(self):
        from openjpki.card import CardStore, CardStoreError
        from openjpki.card.pcsc import PcscError, PcscTransport
        try:
            if self.card_id is not None:
                self.transport = CardStore(self.settings.cards_dir).open(self.card_id)
                self.transport.power_on()
            else:
                self.transport = PcscTransport(self.reader)
        except (CardStoreError, PcscError) as e:
            fail(str(e))
        return self.transport

    def __exit__(self, *exc) -> bool:
        self.transport.close()
        return False


def _counter(ctx: typer.Context):
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.counter import ConfigError, CounterContext
    try:
        return CounterContext.from_settings(settings(ctx), actor="kiosk")
    except (AuthorityError, SetupError, ConfigError) as e:
        fail(str(e))


def _answer(out, json_out: bool, done) -> None:
    """Print a service's answer: a refusal (exit 1) or the result, then ``done()``."""
    from openjpki.rules import Refused
    if isinstance(out, Refused):
        if json_out:
            print_json(out.to_dict())
            raise typer.Exit(1)
        _refuse(out.rule, out.message_ja, out.message_en)
    if json_out:
        print_json(out.to_dict())
    else:
        _say(f"{out.rule}: {out.message_ja}")
        _say(f"{out.rule}: {out.message_en}")
        if done is not None:
            _say(done())


def _run_card_work(ctx: typer.Context, work):
    """``work(counter, now)`` with the counter of the home and its clock (see :func:`_now`)."""
    from openjpki.card import CardError, IssuingError
    from openjpki.card.pcsc import PcscError
    from openjpki.rules import JST
    from openjpki.services.counter import InputError
    counter = _counter(ctx)
    try:
        return work(counter, _now(settings(ctx), counter.store).astimezone(JST))
    except (InputError, CardError, IssuingError, PcscError) as e:
        fail(str(e))
    finally:
        counter.close()


@kiosk_app.command("prepare")
def kiosk_prepare(
    ctx: typer.Context,
    target: str = typer.Option(..., "--target", help="The PIN to reset: sign or auth."),
    other_pin: Optional[str] = typer.Option(None, "--other-pin", help="The OTHER "
                                            "certificate's PIN (R6.1; or $OPENJPKI_OTHER_PIN, "
                                            "--pin-stdin); leave out if unknown."),
    pin_stdin: bool = PIN_STDIN,
    live_face: Optional[str] = typer.Option(None, "--live-face", help="The face the camera "
                                            "sees (simulated: a token; see `kiosk face`)."),
    card: Optional[str] = CARD_OPT, reader: Optional[str] = KIOSK_READER_OPT,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """The smartphone app's step (R6.1–R6.3): read the card with the other PIN, match the
    face for a SIGN reset, and reserve the kiosk step for 24 hours."""
    from openjpki.services.smartphone import prepare_pin_reset
    other_pin = Pins(pin_stdin).get(other_pin, "--other-pin", "other PIN", required=False)
    with _Reader(ctx, card, reader) as transport:
        out = _run_card_work(ctx, lambda c, now: prepare_pin_reset(
            c, transport, target, other_pin, now=now, live_face=live_face))
    _answer(out, json_out, lambda: f"the kiosk step is open until {out.expires_at.isoformat()}"
            f" — キオスク端末での手続きは{ja_date(to_jst(out.expires_at))}"
            f"{to_jst(out.expires_at):%H時%M分}まで")


@kiosk_app.command("reset")
def kiosk_reset(
    ctx: typer.Context,
    target: str = typer.Option(..., "--target", help="The PIN to reset: sign or auth."),
    other_pin: Optional[str] = typer.Option(None, "--other-pin", help="The other PIN again "
                                            "(or $OPENJPKI_OTHER_PIN)."),
    new_pin: Optional[str] = typer.Option(None, "--new-pin", help="The new PIN (R1.3; or "
                                          "$OPENJPKI_NEW_PIN, a prompt)."),
    pin_stdin: bool = PIN_STDIN,
    card: Optional[str] = CARD_OPT, reader: Optional[str] = KIOSK_READER_OPT,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """The kiosk's step (R6.2–R6.5): within 24 hours of the app step and 6:30–23:00.
    --pin-stdin reads the other PIN (an empty line if unknown), then the new one."""
    from openjpki.services.kiosk import kiosk_reset_pin
    pins = Pins(pin_stdin)
    other_pin = pins.get(other_pin, "--other-pin", "other PIN", required=False)
    new_pin = pins.get(new_pin, "--new-pin", "new PIN")
    with _Reader(ctx, card, reader) as transport:
        out = _run_card_work(ctx, lambda c, now: kiosk_reset_pin(
            c, transport, target, other_pin, new_pin, now=now))
    _answer(out, json_out, None)


@kiosk_app.command("face")
def kiosk_face(card_number: str = typer.Argument(..., help="The card's 12-digit number.")
               ) -> None:
    """The simulated face of a card's holder: the token the default matcher accepts."""
    from openjpki.services.smartphone import card_photo_token
    _say(card_photo_token(card_number))


@konbini_app.command("juminhyo")
def konbini_juminhyo(
    ctx: typer.Context,
    pin: Optional[str] = typer.Option(None, "--pin", help="The AUTH PIN (利用者証明用; or "
                                      "$OPENJPKI_PIN, --pin-stdin, a prompt)."),
    pin_stdin: bool = PIN_STDIN,
    out: Optional[Path] = typer.Option(None, "--out", help="Directory for the PDF "
                                       "(default <home>/konbini)."),
    card: Optional[str] = CARD_OPT, reader: Optional[str] = KIOSK_READER_OPT,
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Log in with the card's AUTH certificate and print a 住民票の写し (R7.1, R7.2)."""
    from openjpki.services.konbini import issue_residence_certificate
    from openjpki.services.letters_pdf import FontMissing
    pin = Pins(pin_stdin).get(pin, "--pin", "AUTH PIN")
    out_dir = out if out is not None else settings(ctx).home / "konbini"

    def work(c, now):
        try:
            return issue_residence_certificate(c, transport, pin, now=now, out_dir=out_dir)
        except FontMissing as e:
            fail(str(e))
    with _Reader(ctx, card, reader) as transport:
        result = _run_card_work(ctx, work)
    _answer(result, json_out, lambda: f"written to {result.path}")
