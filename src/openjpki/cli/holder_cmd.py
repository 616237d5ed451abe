"""`openjpki client facts|face|pins|change-pin`: the holder's side of the other applications
— the four facts and the individual number (券面事項入力補助AP), the card face
(券面事項確認AP), the tries left of every PIN, and PIN changes in every application.

PINs are asked for on the terminal, or read from standard input (``--pin-stdin``: one PIN
a line; change-pin reads the current then the new one) or from an environment variable
(``--pin-env NAME``, else ``$OPENJPKI_PIN`` / ``$OPENJPKI_NEW_PIN``, as every command reads
PINs: :mod:`openjpki.cli.secrets_input`); ``--pin`` still takes one on the command line, for
compatibility, with a warning. A wrong or locked PIN is a refusal (exit 1, Japanese and English
with the rule); no reader or card, exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from openjpki.cli.app import console, fail, print_json
from openjpki.cli.card_cmd import READER_OPT, CardSession, client_app
from openjpki.cli.secrets_input import Pins

PIN_STDIN = typer.Option(False, "--pin-stdin", help="Read the PIN(s) from standard input, "
                         "one a line (change-pin: the current one, then the new one).")
PIN_ENV = typer.Option(None, "--pin-env", help="Read the PIN from this environment variable.")
JSON = typer.Option(False, "--json", help="Answer in JSON.")
KIND_NAMES = {"card": "card", "input": "input", "auth": "auth", "sign": "sign"}


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _holder(reader: Optional[str]) -> CardSession:
    """The card in a reader as a HolderClient, errors turned into CLI answers."""
    from openjpki.card.holder import HolderClient
    return CardSession(reader, HolderClient)


def _using(value: str, app: str):
    from openjpki.card.pins import PinId
    table = {"input": {"pin": PinId.INPUT, "a": PinId.INPUT_A, "b": PinId.INPUT_B},
             "face": {"a": PinId.FACE_A, "b": PinId.FACE_B}}[app]
    if value not in table:
        fail(f"--using must be one of {', '.join(table)} (not {value!r})")
    return table[value]


@client_app.command("facts")
def client_facts(
    pin: Optional[str] = typer.Option(None, "--pin", help="The PIN (prefer the prompt, "
                                      "--pin-stdin or --pin-env)."),
    pin_stdin: bool = PIN_STDIN, pin_env: Optional[str] = PIN_ENV,
    using: str = typer.Option("pin", "--using", help="pin (券面事項入力補助用暗証番号, 4 "
                              "digits), a (照合番号A: the individual number) or b (照合番号B)."),
    json_out: bool = JSON, reader: Optional[str] = READER_OPT,
) -> None:
    """The four facts and the individual number (券面事項入力補助AP)."""
    pid = _using(using, "input")
    the_pin = Pins(pin_stdin).get(pin, "--pin", "PIN", env=pin_env)
    with _holder(reader) as client:
        facts = client.facts(the_pin, using=pid).to_dict()
    if json_out:
        print_json(facts)
        return
    for label, key in (("個人番号", "individual_number"), ("氏名", "name"),
                       ("住所", "address"), ("生年月日", "birth_date"), ("性別", "sex_name")):
        _say(f"{label}: {facts[key]}")


@client_app.command("face")
def client_face(
    out: Path = typer.Option(..., "--out", help="The folder to write the images into."),
    pin_b: Optional[str] = typer.Option(None, "--pin-b", help="照合番号B: birth date YYMMDD "
                                        "+ card expiry year + security code."),
    pin_a: Optional[str] = typer.Option(None, "--pin-a", help="照合番号A (the individual "
                                        "number): also writes the individual-number image."),
    pin_stdin: bool = PIN_STDIN, pin_env: Optional[str] = PIN_ENV,
    using: str = typer.Option("b", "--using", help="a or b: which PIN --pin-stdin / "
                              "--pin-env / the prompt give."),
    json_out: bool = JSON, reader: Optional[str] = READER_OPT,
) -> None:
    """The card face (券面事項確認AP): name, address, photo and security-code images."""
    if pin_a is not None and pin_b is not None:
        fail("give --pin-a or --pin-b, not both")
    which = "a" if pin_a is not None else "b" if pin_b is not None else using
    pid = _using(which, "face")
    option = "--pin-a" if which == "a" else "--pin-b"
    the_pin = Pins(pin_stdin).get(pin_a if pin_a is not None else pin_b, option,
                                  f"照合番号{which.upper()}", env=pin_env)
    with _holder(reader) as client:
        face = client.face(the_pin, using=pid)
    files = {"name.png": "name_png", "address.png": "address_png", "photo.jp2": "photo_jp2",
             "security_code.png": "security_code_png",
             "individual_number.png": "individual_number_png"}
    try:
        out.mkdir(parents=True, exist_ok=True)
        written = {}
        for name, key in files.items():
            if key in face:
                (out / name).write_bytes(face[key])
                written[name] = len(face[key])
    except OSError as e:
        fail(f"cannot write into {out}: {e.strerror or e}")
    summary = {"folder": str(out), "files": written, "birth_date": face["birth_date"],
               "sex": face["sex"], "card_expiry": face["card_expiry"]}
    if json_out:
        print_json(summary)
        return
    _say(f"card expiry {face['card_expiry']}, birth date {face['birth_date']}")
    for name, size in written.items():
        _say(f"  {out / name} ({size} bytes)")


@client_app.command("pins")
def client_pins(json_out: bool = JSON, reader: Optional[str] = READER_OPT) -> None:
    """The tries left of every PIN on the card (no PIN needed; none is used)."""
    with _holder(reader) as client:
        tries = client.all_tries()
    if json_out:
        print_json(tries)
        return
    for name, t in tries.items():
        _say(f"{name}: {t['tries_left']}/{t['max_tries']} tries left"
             + ("  LOCKED (R1.7)" if t["blocked"] else ""))


@client_app.command("change-pin")
def client_change_pin(
    kind: Optional[str] = typer.Option(None, "--kind", help="card (住民基本台帳用), input "
                                       "(券面事項入力補助用), auth or sign."),
    key: Optional[str] = typer.Option(None, "--key", help="auth or sign (older spelling of "
                                      "--kind)."),
    pin: Optional[str] = typer.Option(None, "--pin", help="Current PIN (prefer the prompt)."),
    new_pin: Optional[str] = typer.Option(None, "--new-pin", help="New PIN (prefer the "
                                          "prompt)."),
    pin_stdin: bool = PIN_STDIN, json_out: bool = JSON, reader: Optional[str] = READER_OPT,
) -> None:
    """Change a PIN: needs the current one (R1.7); the card checks the new one's form."""
    from openjpki.card.pins import PinId
    name = kind or key
    if name is None or name.lower() not in KIND_NAMES:
        fail("--kind must be card, input, auth or sign")
    pid = PinId.of(KIND_NAMES[name.lower()])
    source = Pins(pin_stdin)
    old = source.get(pin, "--pin", f"current {pid.value} PIN")
    new = source.get(new_pin, "--new-pin", f"new {pid.value} PIN")
    with _holder(reader) as client:
        client.change_pin(pid, old, new)
    if json_out:
        print_json({"kind": pid.value, "changed": True})
    else:
        _say(f"{pid.value} PIN changed")
