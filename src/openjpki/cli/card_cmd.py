"""`openjpki card …` (the virtual card in a reader) and `openjpki client …` (the holder-side
client, 利用者クライアントソフト, R8.1). See docs/CLI.md and docs/CARD.md.

Refusals (wrong PIN, locked PIN, a new PIN of the wrong form) print their rule in Japanese
and English and exit 1; a missing reader or card, or bad usage, exits 2 with one line.
"""

from __future__ import annotations

import base64
import datetime as dt
import signal
from pathlib import Path
from typing import NoReturn, Optional

import typer

from openjpki.cli.app import app, console, err_console, fail, print_json, settings
from openjpki.cli.secrets_input import PIN_STDIN, Pins

card_app = typer.Typer(help="Virtual My Number Cards: put one into the vpcd reader, list, "
                       "status.", no_args_is_help=True)
client_app = typer.Typer(help="The holder-side client (利用者クライアントソフト): read the "
                         "certificates, verify and change PINs, sign — over PC/SC.",
                         no_args_is_help=True)
app.add_typer(card_app, name="card")
app.add_typer(client_app, name="client")

KEY_HELP = "Which certificate and PIN: auth (利用者証明用) or sign (署名用)."


def _store(ctx: typer.Context):
    from openjpki.card import CardStore
    return CardStore(settings(ctx).cards_dir)


# --- card … --------------------------------------------------------------------------------
@card_app.command("insert")
def card_insert(
    ctx: typer.Context,
    card_id: str = typer.Argument(..., help="The card to insert."),
    vpcd: str = typer.Option("127.0.0.1:35963", "--vpcd", help="vpcd's HOST:PORT (reader "
                             "'Virtual PCD 00 00' is 35963, '00 01' 35964)."),
    atr: Optional[str] = typer.Option(
        None, "--atr", help="Answer with this ATR: 'real' (a real contact card's, the "
        "default), 'real2', 'opensc' (the one OpenSC's table matches) or hex."),
) -> None:
    """Put a virtual card into the vpcd reader until stopped (SIGTERM or Ctrl-C)."""
    from openjpki.card import CardStoreError
    from openjpki.card.layout import ATR_ALIASES
    from openjpki.card.vpcd import VpcdBridge, parse_endpoint

    try:
        host, port = parse_endpoint(vpcd)
    except ValueError as e:
        fail(str(e))
    atr_bytes = None
    if atr is not None:
        try:
            atr_bytes = ATR_ALIASES.get(atr.lower()) or bytes.fromhex(atr.replace(":", ""))
        except ValueError:
            fail(f"--atr: not an ATR alias or hex: {atr!r}")
        if not 2 <= len(atr_bytes) <= 33:
            fail("--atr: an ATR is 2 to 33 bytes")
    try:
        card = _store(ctx).open(card_id)
    except CardStoreError as e:
        fail(str(e))
    if atr_bytes is not None:
        card.atr_override = atr_bytes
    bridge = VpcdBridge(card, host, port,
                        on_event=lambda m: err_console.print(m, markup=False, highlight=False, soft_wrap=True))

    def _stop(signum: int, frame: object) -> None:
        bridge.stop()
    old = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        bridge.run()
    except OSError as e:
        fail(f"vpcd bridge: {e}")
    finally:
        card.close()
        for s, h in old.items():
            signal.signal(s, h)
    err_console.print(f"card {card_id} removed", markup=False, highlight=False, soft_wrap=True)


@card_app.command("list")
def card_list(ctx: typer.Context, json_out: bool = typer.Option(False, "--json")) -> None:
    """The cards in this home's card store."""
    store = _store(ctx)
    ids = store.list()
    if json_out:
        print_json(ids)
        return
    for card_id in ids:
        console.print(card_id, markup=False, highlight=False, soft_wrap=True)


@card_app.command("status")
def card_status(ctx: typer.Context, card_id: str = typer.Argument(...),
                json_out: bool = typer.Option(False, "--json")) -> None:
    """What a card holds and its PIN tries left (no secrets); works while it is inserted."""
    from openjpki.card import CardStoreError
    try:
        st = _store(ctx).status(card_id)
    except CardStoreError as e:
        fail(str(e))
    if json_out:
        print_json(st)
        return
    console.print(f"card {st['card_id']}  ATR {st['atr']}  "
                  f"{'in a reader / in use' if st['in_use'] else 'not in use'}",
                  markup=False, highlight=False, soft_wrap=True)
    for kind in ("auth", "sign"):
        pin = st["pins"][kind]
        console.print(f"  {kind}: key {'yes' if st['keys'][kind] else 'no'}, certificate "
                      f"{'yes' if st['certificates'][kind] else 'no'}, CA certificate "
                      f"{'yes' if st['ca_certificates'][kind] else 'no'}, PIN "
                      + ("not set" if not pin["set"] else
                         f"{pin['tries_left']}/{pin['max_tries']} tries left"
                         + (" (locked)" if pin["blocked"] else "")),
                      markup=False, highlight=False, soft_wrap=True)


# --- client … ------------------------------------------------------------------------------
def _kind(value: str):
    from openjpki.card import KeyKind
    try:
        return KeyKind.of(value)
    except ValueError as e:
        fail(f"--key: {e}")


def _refuse(message_ja: str, message_en: str) -> NoReturn:
    err_console.print(message_ja, markup=False, highlight=False, soft_wrap=True)
    err_console.print(message_en, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


class CardSession:
    """A connection to the card in a reader, with errors turned into CLI answers: a wrong
    or blocked PIN is a refusal (exit 1, both languages), a reader or card fault one line
    (exit 2). ``client`` makes the client over the transport (default the JPKI AP's)."""

    def __init__(self, reader: Optional[str], client=None) -> None:
        self.reader, self.client = reader, client

    def __enter__(self):
        from openjpki.card import JpkiClient
        from openjpki.card.pcsc import PcscError, PcscTransport
        try:
            self.transport = PcscTransport(self.reader)
        except PcscError as e:
            fail(str(e))
        return (self.client or JpkiClient)(self.transport)

    def __exit__(self, etype, exc, tb) -> bool:
        from openjpki.card import CardError, PinBlocked, PinFormRefused, WrongPin
        from openjpki.card.holder import NewPinRefused, PinLocked, WrongCardPin
        from openjpki.card.pcsc import PcscError
        self.transport.close()
        if isinstance(exc, (WrongPin, PinBlocked, PinFormRefused, WrongCardPin, PinLocked,
                            NewPinRefused)):
            _refuse(exc.message_ja, exc.message_en)
        if isinstance(exc, (CardError, PcscError)):
            fail(str(exc))
        return False


def _pin(pins: Pins, value: Optional[str], option: str, prompt: str) -> str:
    """A PIN from --pin-stdin, the option (warned), $OPENJPKI_…_PIN or a hidden prompt."""
    return pins.get(value, option, prompt)


PIN_HELP = "The PIN (or $OPENJPKI_PIN, --pin-stdin, or a prompt on a terminal)."
READER_OPT = typer.Option(None, "--reader", help="Reader name (or a unique part) or number; "
                          "default: the first reader with a card.")


@client_app.command("readers")
def client_readers(json_out: bool = typer.Option(False, "--json")) -> None:
    """The PC/SC readers and whether a card is in each."""
    from openjpki.card.pcsc import PcscError, list_readers
    try:
        readers = list_readers()
    except PcscError as e:
        fail(str(e))
    if json_out:
        print_json([{"index": r.index, "name": r.name, "card": r.card_present,
                     "atr": r.atr.hex().upper() if r.atr else None} for r in readers])
        return
    if not readers:
        fail("no smart-card reader found")
    for r in readers:
        console.print(f"{r.index}: {r.name}  " + (f"card, ATR {r.atr.hex().upper()}"
                                                  if r.atr else "no card"),
                      markup=False, highlight=False, soft_wrap=True)


def _cert_facts(der: Optional[bytes], now: dt.datetime) -> dict:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    if der is None:
        return {"present": False}
    cert = x509.load_der_x509_certificate(der)
    nb, na = cert.not_valid_before_utc, cert.not_valid_after_utc
    return {"present": True, "subject": cert.subject.rfc4514_string(),
            "issuer": cert.issuer.rfc4514_string(), "serial": format(cert.serial_number, "x"),
            "not_before": nb.isoformat(), "not_after": na.isoformat(),
            "valid_now": nb <= now <= na,
            "pem": cert.public_bytes(Encoding.PEM).decode()}


@client_app.command("show")
def client_show(
    reader: Optional[str] = READER_OPT,
    sign_pin: Optional[str] = typer.Option(None, "--sign-pin", help="Also read the SIGN "
                                           "certificate, which needs the SIGN PIN (or "
                                           "$OPENJPKI_SIGN_PIN, or --pin-stdin)."),
    json_out: bool = typer.Option(False, "--json"),
    pin_stdin: bool = PIN_STDIN,
) -> None:
    """Both certificates with their validity, and the tries left of each PIN (R8.1)."""
    from openjpki.card import KeyKind, MAX_TRIES
    sign_pin = Pins(pin_stdin).get(sign_pin, "--sign-pin", "SIGN PIN", required=False)
    now = dt.datetime.now(dt.timezone.utc)  # the outermost layer reads the clock
    with CardSession(reader) as client:
        client.select_jpki()
        out: dict = {"reader": client.transport.reader_name, "token": client.token_info()}
        client.select_ef(0x0008)
        present, _ = client.read_binary(0, 3)
        for kind in KeyKind:
            tries = client.tries_left(kind)
            entry = {"pin_tries_left": tries, "pin_max_tries": MAX_TRIES[kind],
                     "pin_blocked": tries == 0}
            if kind is KeyKind.SIGN and sign_pin is None:
                entry.update(present=len(present) > 0 and present[0] != 0, readable=False)
            else:
                if kind is KeyKind.SIGN:
                    client.verify_pin(kind, sign_pin)
                    entry["pin_tries_left"] = MAX_TRIES[kind]
                entry.update(_cert_facts(client.read_certificate(kind), now), readable=True)
            entry["ca"] = _cert_facts(client.read_certificate(kind, ca=True), now)
            out[kind.value] = entry
        client.logout()  # forget the verified SIGN PIN
    if json_out:
        print_json(out)
        return
    p = lambda s: console.print(s, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
    p(f"reader: {out['reader']}   token: {out['token']['label']}  serial "
      f"{out['token']['serial']}")
    names = {"auth": "AUTH 利用者証明用電子証明書", "sign": "SIGN 署名用電子証明書"}
    for kind in ("auth", "sign"):
        e = out[kind]
        p(f"{names[kind]}")
        if not e.get("readable"):
            p("  certificate: " + ("present; reading it needs the SIGN PIN (--sign-pin)"
                                   if e["present"] else "none"))
        elif not e["present"]:
            p("  certificate: none")
        else:
            p(f"  subject: {e['subject']}")
            p(f"  issuer:  {e['issuer']}   serial {e['serial']}")
            p(f"  valid:   {e['not_before'][:10]} .. {e['not_after'][:10]}  "
              f"({'valid now' if e['valid_now'] else 'NOT valid now'})")
        p(f"  PIN: {e['pin_tries_left']}/{e['pin_max_tries']} tries left"
          + ("  LOCKED: a PIN reset at the counter unlocks it (R1.7)" if e["pin_blocked"]
             else ""))


@client_app.command("verify-pin")
def client_verify_pin(key: str = typer.Option(..., "--key", help=KEY_HELP),
                      pin: Optional[str] = typer.Option(None, "--pin", help=PIN_HELP),
                      reader: Optional[str] = READER_OPT,
                      pin_stdin: bool = PIN_STDIN) -> None:
    """Check a PIN on the card (a wrong one uses a try, R1.4)."""
    kind = _kind(key)
    the_pin = _pin(Pins(pin_stdin), pin, "--pin", f"{kind.value.upper()} PIN")
    with CardSession(reader) as client:
        client.select_jpki()
        client.verify_pin(kind, the_pin)
        client.logout()
    console.print(f"{kind.value.upper()} PIN correct", markup=False, highlight=False, soft_wrap=True)


@client_app.command("sign")
def client_sign(
    file: Path = typer.Argument(..., help="The file to sign."),
    key: str = typer.Option(..., "--key", help=KEY_HELP),
    pin: Optional[str] = typer.Option(None, "--pin", help=PIN_HELP),
    out: Optional[Path] = typer.Option(None, "--out", help="Write the raw signature here."),
    json_out: bool = typer.Option(False, "--json"),
    reader: Optional[str] = READER_OPT,
    pin_stdin: bool = PIN_STDIN,
) -> None:
    """Sign FILE with the card: PKCS#1 v1.5 with SHA-256, hashed here, signed on the card."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding
    from openjpki.card import sign_file_data
    kind = _kind(key)
    try:
        data = file.read_bytes()
    except OSError as e:
        fail(f"cannot read {file}: {e.strerror or e}")
    the_pin = _pin(Pins(pin_stdin), pin, "--pin", f"{kind.value.upper()} PIN")
    with CardSession(reader) as client:
        signature, cert_der = sign_file_data(client.transport, kind, the_pin, data)
        client.logout()
    if out is not None:
        try:
            out.write_bytes(signature)
        except OSError as e:
            fail(f"cannot write {out}: {e.strerror or e}")
    pem = x509.load_der_x509_certificate(cert_der).public_bytes(Encoding.PEM).decode()
    if json_out:
        print_json({"signature": base64.b64encode(signature).decode(), "certificate": pem})
    elif out is None:
        console.print(base64.b64encode(signature).decode(), markup=False, highlight=False, soft_wrap=True)
    else:
        console.print(f"signature written to {out}", markup=False, highlight=False, soft_wrap=True)
