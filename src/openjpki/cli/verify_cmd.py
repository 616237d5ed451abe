"""``openjpki verify``: the relying party's check of a card signature (CLI.md).

    openjpki verify --signature SIG [--certificate PEM] FILE [--crl FILE …] [--ocsp URL]
                    [--at DATETIME] [--purpose sign|auth] [--trust PEM …] [--json]

SIG is what ``openjpki client sign --out`` writes (the raw PKCS#1 v1.5 signature; then
--certificate is needed), the JSON that ``client sign --json`` prints (signature and
certificate), or a detached CMS SignedData (DER or PEM, certificate inside or given).

Trust and revocation (decision): the roots of every generation of both authorities of the
--home store (plus any --trust files); revocation from the store's own records, unless
--crl files or an --ocsp URL are given, which are then the only sources.  The wall clock is
read here, never below (in sandbox mode, the sandbox's clock); --at checks another moment
(ISO date-time; without a zone it is Japan time; a date alone means 12:00 JST of that day).

Exit status: 0 valid; 1 not valid (the status and why are printed); 2 bad usage.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import List, Optional

import typer

from openjpki.cli.app import app, console, fail, print_json, settings

JST = timezone(timedelta(hours=9), "JST")


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        fail(f"cannot read {what} {path}: {e.strerror or e}")


def parse_moment(text: str) -> datetime:
    """--at: an ISO date-time (Japan time when no zone is given) or a date (12:00 JST)."""
    value = text.strip()
    try:
        if len(value) == 10:
            return datetime.combine(datetime.fromisoformat(value).date(), time(12, 0), JST)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(f"--at: not an ISO date or date-time: {text!r}")
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=JST)


def _now(home_settings, service) -> datetime:
    """The wall clock; in sandbox mode, the sandbox's clock (``openjpki sandbox time …``)."""
    real = datetime.now(timezone.utc)
    if service is None:
        return real
    try:
        from openjpki.services.sandbox_clock import read_clock
        from openjpki.services.sandbox_mode import resolve_mode

        if resolve_mode(home_settings).sandbox:
            return read_clock(service.store).now(real)
    except Exception:  # noqa: BLE001 — no sandbox settings in this store: the wall clock
        pass
    return real


def _signature_and_certificate(sig: bytes, cert: Optional[bytes]) -> tuple[bytes, Optional[bytes]]:
    """The signature bytes, and the certificate (given, or from ``client sign --json``)."""
    head = sig.lstrip()[:1]
    if head == b"{":
        try:
            doc = json.loads(sig.decode("utf-8"))
            raw = base64.b64decode(doc["signature"], validate=True)
            pem = doc.get("certificate")
        except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
            fail("--signature: JSON without a base64 'signature' (as `client sign --json` prints)")
        return raw, cert if cert is not None else (pem.encode() if isinstance(pem, str) else None)
    return sig, cert


@app.command("verify")
def verify_cmd(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The signed file (or challenge)."),
    signature: Path = typer.Option(..., "--signature", help="Signature file: raw (client sign --out), "
                                   "client sign --json output, or CMS detached (DER/PEM)."),
    certificate: Optional[Path] = typer.Option(None, "--certificate", help="The signer's certificate (PEM or "
                                               "DER); needed for a raw signature."),
    crl: Optional[List[Path]] = typer.Option(None, "--crl", help="CRL file(s) (DER or PEM) to check "
                                             "revocation with, instead of the store."),
    ocsp: Optional[str] = typer.Option(None, "--ocsp", help="OCSP responder URL to ask instead of the store."),
    at: Optional[str] = typer.Option(None, "--at", help="Check at this moment (ISO; default now)."),
    purpose: Optional[str] = typer.Option(None, "--purpose", help="Require a document signature (sign) "
                                          "or a log-in (auth); default: what the certificate is for."),
    trust: Optional[List[Path]] = typer.Option(None, "--trust", help="Also trust this root (PEM/DER); "
                                               "with it, the command works without an initialised home."),
    json_out: bool = typer.Option(False, "--json", help="Print {valid, status, facts} (CLI.md)."),
) -> None:
    """Relying-party check of a card signature: path by key to a trusted root, validity, key
    usage and policy, revocation; SIGN facts when valid."""
    from openjpki.pki.verify_crl import CrlError, parse_crl
    from openjpki.services.authority import AuthorityError, NotInitialised
    from openjpki.services.authority_home import open_authorities
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.relying_party import http_fetch, make_verifier, store_roots

    if purpose not in (None, "sign", "auth"):
        fail("--purpose must be sign or auth")
    if ocsp is not None and not (ocsp.startswith("http://") or ocsp.startswith("https://")):
        fail("--ocsp must be an http(s) URL")
    moment = parse_moment(at) if at is not None else None
    data = _read(file, "file")
    sig, cert = _signature_and_certificate(_read(signature, "signature"),
                                           _read(certificate, "certificate") if certificate else None)
    crls = []
    for path in crl or ():
        try:
            crls.append(parse_crl(_read(path, "CRL")))
        except CrlError as e:
            fail(f"--crl {path}: {e}")
    extra = [_read(p, "root") for p in trust or ()]
    service = None
    try:
        service = open_authorities(settings(ctx))
    except NotInitialised:
        if not extra:
            fail("no trusted roots: run `openjpki init` for this home, or give --trust ROOT.pem")
    except (AuthorityError, SetupError) as e:
        fail(str(e))
    if moment is None:
        moment = _now(settings(ctx), service)
    try:
        from openjpki.pki.verify_cert import CertificateError
        from openjpki.pki.verify_cms import looks_like_cms

        if cert is None and not looks_like_cms(sig):
            fail("a raw signature needs --certificate (the signer's certificate)")
        if cert is not None:
            from openjpki.pki.verify_cert import load_certificate
            try:
                load_certificate(cert)
            except CertificateError as e:
                fail(f"--certificate: {e}")
        try:
            roots = [*(store_roots(service) if service else ()), *extra]
            verifier = make_verifier(roots=roots, service=service, crls=crls,
                                     ocsp_url=ocsp, fetch=http_fetch())
        except CertificateError as e:
            fail(f"--trust: {e}")
        result = verifier.verify(data, sig, cert, at=moment, purpose=purpose)  # type: ignore[arg-type]
    finally:
        if service is not None:
            service.store.dispose()
    if json_out:
        print_json(result.to_dict())
    else:
        say = lambda text: console.print(text, markup=False, highlight=False, soft_wrap=True)  # noqa: E731
        say(f"{result.status}: {result.reason}")
        say(f"  {result.message_ja}")
        facts = result.facts_dict()
        if facts:
            for key in ("name", "address", "birth_date", "sex"):
                say(f"  {key}: {facts[key]}")
    if not result.valid:
        raise typer.Exit(1)
