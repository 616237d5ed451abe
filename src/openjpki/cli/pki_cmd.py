"""``openjpki init``, ``cert list|revoke|hold|issue``, ``crl generate`` and ``serve``
(docs/CLI.md). Thin: parse, call services.authority, print. The wall clock is read
here (``_now``), never below."""

from __future__ import annotations

import os
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Optional

import typer

from openjpki.cli.app import (
    app, authority_service, console, fail, print_json, require_private_home, settings,
)
from openjpki.rules.revocation import Reason

REASON_NAMES = [r.value for r in Reason]
STATUSES = ("good", "revoked", "hold")
KINDS = ("sign", "auth")

cert_app = typer.Typer(help="The authorities' certificates: list, revoke, hold.",
                       no_args_is_help=True)
crl_app = typer.Typer(help="Certificate revocation lists.", no_args_is_help=True)
app.add_typer(cert_app, name="cert")
app.add_typer(crl_app, name="crl")


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _choice(value: Optional[str], allowed: tuple[str, ...] | list[str], option: str) -> Optional[str]:
    if value is not None and value not in allowed:
        fail(f"{option} must be one of: {', '.join(allowed)} (not {value!r})")
    return value


def _iso_date(value: Optional[str], option: str) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date YYYY-MM-DD (not {value!r})")


def _print_certificate(record, as_json: bool) -> None:
    if as_json:
        print_json(record.to_dict())
    else:
        reason = f" ({record.reason})" if record.reason else ""
        _say(f"{record.serial} {record.kind} {record.status}{reason} "
             f"not after {record.not_after.isoformat()}")


@app.command("init")
def init_cmd(
    ctx: typer.Context,
    environment: Optional[str] = typer.Option(
        None, "--environment", help="test (JPKI-TEST names and policies, the default) or "
        "production; fixed when the roots are made."),
    crl_url_base: Optional[str] = typer.Option(
        None, "--crl-url-base", help="HTTP base URL put into certificates' CRL distribution "
        "points, e.g. http://127.0.0.1:8000 ('' removes it)."),
    ocsp_url: Optional[str] = typer.Option(
        None, "--ocsp-url", help="OCSP URL put into certificates (AIA), e.g. "
        "http://127.0.0.1:8000/ocsp ('' removes it)."),
    key_store: Optional[str] = typer.Option(
        None, "--key-store", help="Where the authorities' keys are made: file (encrypted "
        "files in <home>/keys, the default) or pkcs11 (a token: --module, --token)."),
    module: Optional[str] = typer.Option(
        None, "--module", help="pkcs11: the PKCS#11 library, e.g. "
        "/usr/lib/softhsm/libsofthsm2.so."),
    token: Optional[str] = typer.Option(None, "--token", help="pkcs11: the token label."),
    pin_stdin: bool = typer.Option(
        False, "--pin-stdin", help="pkcs11: read the token PIN from the first line of "
        "standard input (else $OPENJPKI_PKCS11_PIN)."),
    as_json: bool = typer.Option(False, "--json", help="Print the two roots as JSON."),
) -> None:
    """Create the store and the two authorities (SIGN, AUTH); safe to run twice."""
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_home import initialise_home
    from openjpki.services.authority_setup import SetupError

    _choice(environment, ("test", "production"), "--environment")
    kwargs: dict = {}
    store_choice = key_store_option(key_store, module, token, pin_stdin)
    if store_choice is not None:
        kwargs["key_store"] = store_choice
    if crl_url_base is not None:
        kwargs["crl_url_base"] = crl_url_base
    if ocsp_url is not None:
        kwargs["ocsp_url"] = ocsp_url
    s = settings(ctx)
    require_private_home(ctx, claim=True)
    try:
        roots = initialise_home(s, now=_now(), environment=environment, **kwargs)
        _make_node_keys(s)
    except (AuthorityError, SetupError, ValueError) as e:
        fail(str(e))
    if as_json:
        print_json(roots.to_dict())
        return
    for label, root in (("SIGN", roots.sign), ("AUTH", roots.auth)):
        _say(f"{label} root: {root.subject.rfc4514_string()} (serial {root.serial_number:x})")
    _say(f"home: {s.home}")


def _make_node_keys(s) -> None:
    """The home's other keys every node of a deployment must share, made now (rather than
    at first use) so that ``keys/`` can be copied to further nodes right after ``init``:
    the pages' session key (clerk cookies) and the counter key (sealed PINs of deferred
    work). docs/OPERATIONS.md."""
    from openjpki.services.counter.secrets import SecretBox, SecretBoxError
    from openjpki.web.pages.session import load_or_create_key

    load_or_create_key(s.keys_dir)
    try:
        SecretBox.from_keys_dir(s.keys_dir)
    except SecretBoxError as e:
        fail(str(e))


def read_pin_stdin() -> None:
    """``--pin-stdin``: the first line of standard input becomes the token PIN of this
    process (and of the worker processes it starts), never an argument."""
    from openjpki.services.keystore import PIN_ENV

    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        fail("--pin-stdin: standard input gave no PIN")
    os.environ[PIN_ENV] = line


def key_store_option(key_store: Optional[str], module: Optional[str], token: Optional[str],
                     pin_stdin: bool) -> Optional[tuple[str, Optional[str], Optional[str]]]:
    """The (store, module, token) of ``--key-store/--module/--token``, checked; None when
    none was given (keep the configured store)."""
    _choice(key_store, ("file", "pkcs11"), "--key-store")
    if pin_stdin:
        read_pin_stdin()
    if key_store is None and module is None and token is None:
        return None
    if key_store is None:
        key_store = "pkcs11"
    if key_store == "pkcs11":
        if not module or not token:
            fail("--key-store pkcs11 needs --module PATH and --token LABEL")
        if not Path(module).is_file():
            fail(f"--module: no PKCS#11 library at {module}")
        return ("pkcs11", str(Path(module).resolve()), token)
    if module or token:
        fail("--module and --token go with --key-store pkcs11")
    return ("file", None, None)


@cert_app.command("list")
def cert_list(
    ctx: typer.Context,
    resident: Optional[str] = typer.Option(None, "--resident", help="Only this resident's."),
    status: Optional[str] = typer.Option(None, "--status", help="good, revoked or hold."),
    kind: Optional[str] = typer.Option(None, "--kind", help="sign or auth."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """The certificates the authorities issued."""
    _choice(status, STATUSES, "--status")
    _choice(kind, KINDS, "--kind")
    records = authority_service(ctx).list(resident_id=resident, status=status, kind=kind)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    for r in records:
        _print_certificate(r, False)


def _change(ctx: typer.Context, serial: str, reason: str, as_json: bool) -> None:
    from openjpki.services.authority import TransitionRefused, UnknownCertificate

    service = authority_service(ctx)
    try:
        record = service.revoke(serial, reason, at=_now())
    except UnknownCertificate as e:
        fail(str(e))
    except ValueError as e:  # not a hexadecimal serial
        fail(str(e))
    except TransitionRefused as e:
        refusal = e.refusal
        if as_json:
            print_json(refusal.to_dict())
        else:
            _say(f"refused ({refusal.rule}): {refusal.message_en} / {refusal.message_ja}")
        raise typer.Exit(1)
    _print_certificate(record, as_json)


@cert_app.command("revoke")
def cert_revoke(
    ctx: typer.Context,
    serial: str = typer.Argument(..., help="Serial number, hexadecimal."),
    reason: Optional[str] = typer.Option(
        None, "--reason", help="RFC 5280 reason: " + ", ".join(REASON_NAMES) + "."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Revoke a certificate (R4.3: final; a held one takes its final reason)."""
    if reason is None or reason not in REASON_NAMES:
        given = "" if reason is None else f" (not {reason!r})"
        fail(f"--reason must be one of: {', '.join(REASON_NAMES)}{given}")
    _change(ctx, serial, reason, as_json)


@cert_app.command("hold")
def cert_hold(
    ctx: typer.Context,
    serial: str = typer.Argument(..., help="Serial number, hexadecimal."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Put a certificate on hold (certificateHold; never released, R4.3)."""
    _change(ctx, serial, Reason.CERTIFICATE_HOLD.value, as_json)


@cert_app.command("issue")
def cert_issue(
    ctx: typer.Context,
    kind: str = typer.Option("auth", "--kind", help="sign or auth."),
    last_valid_day: Optional[str] = typer.Option(
        None, "--last-valid-day", help="YYYY-MM-DD (default: five years from today)."),
    resident: Optional[str] = typer.Option(None, "--resident", help="Resident id to record."),
    subject_id: Optional[str] = typer.Option(None, "--subject-id", help="CN (default random)."),
    prefecture: str = typer.Option("東京都", "--prefecture", help="SIGN: issuing prefecture."),
    municipality: str = typer.Option("千代田区", "--municipality", help="SIGN: municipality."),
    name: str = typer.Option("試験　太郎", "--name", help="SIGN: surname U+3000 given name."),
    address: str = typer.Option("東京都千代田区霞が関一丁目１番１号", "--address"),
    birth_date: str = typer.Option("1990-01-01", "--birth-date", help="SIGN: YYYY-MM-DD."),
    sex: int = typer.Option(1, "--sex", min=1, max=3, help="SIGN: 1 male, 2 female, 3 unknown."),
    key_out: Optional[Path] = typer.Option(
        None, "--key-out", help="Write the generated private key here (PEM, mode 0600)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """SANDBOX ONLY: issue a certificate for a key generated here, with no card. The real
    path is the counter, with the key made on the card."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from openjpki.pki import SignFacts
    from openjpki.rules import check_register_text

    _choice(kind, KINDS, "--kind")
    now = _now()
    last = _iso_date(last_valid_day, "--last-valid-day") or (now.date() + timedelta(days=5 * 365))
    born = _iso_date(birth_date, "--birth-date")
    service = authority_service(ctx)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    try:
        if kind == "sign":
            check_register_text("--name", name)  # R1.2, as at the counter
            check_register_text("--address", address)
        facts = SignFacts(name, address, born, sex) if kind == "sign" else None
        record = service.issue(kind, key.public_key(), last_valid_day=last, now=now,
                               subject_id=subject_id, resident_id=resident,
                               prefecture=prefecture if kind == "sign" else None,
                               municipality=municipality if kind == "sign" else None, facts=facts)
    except ValueError as e:
        fail(str(e))
    if key_out is not None:
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        fd = os.open(key_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    _print_certificate(record, as_json)


@crl_app.command("generate")
def crl_generate(
    ctx: typer.Context,
    kind: Optional[str] = typer.Option(None, "--kind", help="sign or auth (default both)."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Write the one full CRL of --kind to this file (default: "
        "<home>/crl/sign.crl, auth.crl and sign/<partition>.crl; a later root generation N "
        "under <home>/crl/gN/)."),
    generation: Optional[int] = typer.Option(
        None, "--generation", min=1, max=2 ** 31 - 1, help="Only this root generation (default: every "
        "generation; with --out, the newest)."),
    only_partitions: bool = typer.Option(
        False, "--only-partitions", help="Only the SIGN partitions' CRLs (not the full lists)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Write the current CRL(s), DER. ``entries`` counts the entries of the full CRLs (with
    --only-partitions, of the partitions)."""
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_crls import every_crl, write_crls

    _choice(kind, KINDS, "--kind")
    if out is not None and kind is None:
        fail("--out names one file: add --kind sign or --kind auth")
    if only_partitions and (out is not None or kind == "auth"):
        fail("--only-partitions writes the SIGN partitions' CRLs: no --out, no --kind auth")
    s = settings(ctx)
    service = authority_service(ctx)
    now = _now()
    files: list[str] = []
    entries = 0
    # Each file is streamed from the store in constant memory and appears whole or not at
    # all; without --out every CRL of every generation is written in this one run
    # (services.authority_crls): lists of ten million entries, and thousands of partitions.
    try:
        if out is not None:
            full = service.write_crl(kind, out, now=now, generation=generation)  # type: ignore[arg-type]
            entries, files = full.entries, [str(full.path)]
        else:
            kinds = ["sign"] if only_partitions else ([kind] if kind else list(KINDS))
            targets = every_crl(service, s.home, kinds, generation, full=not only_partitions)
            for written in write_crls(service, targets, now=now):
                files.append(str(written.path))
                entries += written.entries if (written.partition is None) != only_partitions else 0
    except AuthorityError as e:
        fail(str(e))
    except OSError as e:
        fail(f"cannot write the CRL: {e.strerror or e} ({e.filename})")
    if as_json:
        print_json({"files": files, "entries": entries})
    else:
        for f in files:
            _say(f)
        _say(f"{entries} entries")


def _start_lines(s, mode, host: str, port: int, demo: bool) -> None:
    """Where it listens, the home, the mode, the next command (and ``--demo``'s seeding)."""
    from openjpki.cli.serve_start import home_counts, say_all, seed_demo, start_lines

    seeded = None
    if demo:
        if not mode.sandbox:
            fail("--demo seeds test data: only in sandbox mode")
        try:
            seeded = len(seed_demo(s, _now()).residents)
        except Exception as e:  # noqa: BLE001 — the services' own errors, as one line
            fail(f"the demo could not be seeded: {e}")
    try:
        residents, clerks = home_counts(s)
    except Exception:  # noqa: BLE001 — counts are advice only; serving goes on
        residents, clerks = 1, 1
    say_all(start_lines(s, mode, host, port, residents=residents, clerks=clerks,
                        demo_seeded=seeded), _say)


@app.command("serve")
def serve_cmd(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8000, "--port", min=0, max=65535),
    workers: int = typer.Option(
        1, "--workers", min=1, max=64, help="Worker processes (each keeps its own caches; "
        "status changes reach all of them within half a second)."),
    production: bool = typer.Option(
        False, "--production", help="Production mode: sandbox controls refused, the sandbox "
        "clock and faults ignored. Default: sandbox on the embedded SQLite store, production "
        "on another database, unless [service] mode in openjpki.toml says otherwise."),
    pin_stdin: bool = typer.Option(
        False, "--pin-stdin", help="Read the PKCS#11 token PIN from standard input (else "
        "$OPENJPKI_PKCS11_PIN or <home>/keys/pkcs11-pin)."),
    node: Optional[str] = typer.Option(
        None, "--node", help="This node's name in /healthz (else $OPENJPKI_NODE, [service] "
        "node in openjpki.toml, or the host name)."),
    demo: bool = typer.Option(
        False, "--demo", help="Sandbox only: seed the demo residents and cards first (as "
        "`openjpki demo`; nothing changes when they are there already)."),
) -> None:
    """Run the HTTP server: OCSP, CRLs, the API and pages, on the store (initialised on
    first start)."""
    import uvicorn

    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_home import initialise_home
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.sandbox_mode import MODE_ENV, resolve_mode
    from openjpki.web.body_limit import load_max_body
    from openjpki.web.serving import OCSP_FRONT, serve_app

    if pin_stdin:
        read_pin_stdin()
    if node:
        from openjpki.config import NODE_ENV

        os.environ[NODE_ENV] = node  # the worker processes started from here too
    s = settings(ctx)
    require_private_home(ctx, claim=True)
    try:
        mode = resolve_mode(s, production=production)
        load_max_body(s.config_file)  # [http] max_body checked before the server starts
        initialise_home(s, now=_now())
    except (AuthorityError, SetupError, ValueError) as e:
        fail(str(e))
    require_private_home(ctx)  # again: what the first start made is checked too
    if production:
        os.environ[MODE_ENV] = "production"  # for any worker process started from here
    _start_lines(s, mode, host, port, demo)
    # The JSON API and the deferred worker (R5.9), and the sandbox (its clock and faults;
    # /api/sandbox, refused in production): see openjpki.web.serving.
    # OCSP requests are answered by the HTTP front (openjpki.web.ocsp_front), everything else
    # by uvicorn and the app, on the same port.
    options = dict(host=host, port=port, http=OCSP_FRONT, log_level="info", access_log=False)
    if workers > 1:
        # Worker processes build the same app from the environment (uvicorn needs a factory).
        os.environ["OPENJPKI_HOME"] = str(s.home)
        if s.database_url:
            os.environ["OPENJPKI_DATABASE_URL"] = s.database_url
        uvicorn.run("openjpki.web.serving:serve_app_from_environment", factory=True,
                    workers=workers, **options)
    else:
        uvicorn.run(serve_app(s, production=production), **options)
