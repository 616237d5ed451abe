"""``openjpki authorities ceremony``: a root generation whose key is made in a PKCS#11 token
(:mod:`openjpki.services.keystore.ceremony`). Thin: parse, call, print the fingerprints."""

from __future__ import annotations

import getpass
from datetime import datetime, timezone
from typing import Optional

import typer

from openjpki.cli.app import console, fail, print_json, settings
from openjpki.cli.pki_cmd import key_store_option
from openjpki.cli.service_cmd import authorities_app


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _pairs(hex_digest: str) -> str:
    return ":".join(hex_digest[i:i + 2] for i in range(0, len(hex_digest), 2))


@authorities_app.command("ceremony")
def authorities_ceremony(
    ctx: typer.Context,
    kind: str = typer.Option(..., "--kind", help="sign or auth."),
    module: str = typer.Option(..., "--module", help="The PKCS#11 library of the token."),
    token: str = typer.Option(..., "--token", help="The token label."),
    pin_stdin: bool = typer.Option(
        False, "--pin-stdin", help="Read the token PIN from standard input (else "
        "$OPENJPKI_PKCS11_PIN)."),
    operator: Optional[str] = typer.Option(
        None, "--operator", help="Who holds the ceremony (recorded in the audit log; default "
        "the login name)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Key ceremony: a new root generation of one authority with its key pair made inside
    the token; prints the root's fingerprints and records the ceremony in the audit log."""
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.keystore.ceremony import hold_ceremony

    if kind not in ("sign", "auth"):
        fail("--kind must be sign or auth")
    _, module_path, label = key_store_option("pkcs11", module, token, pin_stdin)  # type: ignore[misc]
    who = (operator or getpass.getuser()).strip()
    if not who:
        fail("--operator must not be empty")
    try:
        made = hold_ceremony(settings(ctx), kind, module=module_path, token=label,  # type: ignore[arg-type]
                             operator=who, now=datetime.now(timezone.utc))
    except (AuthorityError, SetupError, ValueError) as e:
        fail(str(e))
    if as_json:
        print_json(made.to_dict())
        return
    _say(f"{made.kind} generation {made.generation}: {made.subject}")
    _say(f"  key in token {made.token!r}, id {made.key_id}")
    _say(f"  subject key id  {_pairs(made.subject_key_id.upper())}")
    _say(f"  root SHA-256    {_pairs(made.root_sha256)}")
    _say(f"  root SHA-1      {_pairs(made.root_sha1)}")
    _say(f"  valid {made.not_before.date().isoformat()} – {made.not_after.date().isoformat()}")
    _say(f"recorded in the audit log by {made.operator} at {made.at.isoformat()}")
