"""``openjpki counter letter list RESIDENT`` and ``counter letter print ID --out FILE``: the
letters mailed to a resident (the inquiry form of R5.4, expiry notices of R3.4, card returns
and result notices of R5.9), and one of them printed again as the counter page prints it —
the inquiry form rendered from its record, a notice from the PDF the batch kept. Each print
leaves an audit entry (``counter.letter.printed``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from openjpki.cli.app import fail, print_json
from openjpki.cli.counter_cmd import AT, JSON, MAX_ID, RESIDENT, counter_session, moment_of, counter_app
from openjpki.cli.counter_say import letter_line, say

letter_app = typer.Typer(help="Letters mailed to residents: list, print again.",
                         no_args_is_help=True)
counter_app.add_typer(letter_app, name="letter")


@letter_app.command("list")
def letter_list(ctx: typer.Context, resident: int = RESIDENT, as_json: bool = JSON) -> None:
    """The letters mailed to a resident, oldest first (their ids are what ``print`` takes)."""
    from openjpki.services.counter.letters import letter_dict, letters_of
    from openjpki.services.counter.residents import require_resident

    with counter_session(ctx) as c:
        with c.store.transaction() as s:
            r = require_resident(s, resident)
            rows = [letter_dict(x) for x in letters_of(s, resident)]
            name = r.name
    if as_json:
        print_json(rows)
        return
    say(f"resident {resident}: {name} — {len(rows)} letter(s) / 郵送物 {len(rows)}件")
    for x in rows:
        say(letter_line(x))


@letter_app.command("print")
def letter_print(
    ctx: typer.Context,
    letter: int = typer.Argument(..., min=1, max=MAX_ID, metavar="ID",
                                 help="Letter id (from `counter letter list`)."),
    out: Path = typer.Option(..., "--out", help="Where to write the PDF (a new file; '-' "
                             "writes to standard output)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing file."),
    at: Optional[str] = AT, as_json: bool = JSON,
) -> None:
    """Print a letter again (the same letter, with the same reference)."""
    from openjpki.services.counter.residents import NotFound
    from openjpki.services.letters_print import letter_pdf

    if str(out) != "-" and out.exists() and not force:
        fail(f"{out} exists: give another --out or --force")
    with counter_session(ctx) as c:
        try:
            name, data = letter_pdf(c, letter, moment_of(ctx, at))
        except NotFound as e:
            fail(str(e))
    if str(out) == "-":
        typer.get_binary_stream("stdout").write(data)
        return
    _write_private(out, data)
    if as_json:
        print_json({"letter_id": letter, "file": str(out), "name": name, "bytes": len(data)})
    else:
        say(f"letter {letter} printed to {out} ({len(data)} bytes) — 郵送物を印刷しました")


def _write_private(path: Path, data: bytes) -> None:
    """The PDF names a resident: readable by its owner only (0600), like the home's files."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as e:
        fail(f"cannot write {path}: {e.strerror}")


__all__ = ["letter_app"]
