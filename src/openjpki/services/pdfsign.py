"""Signing a PDF with the card (PAdES), as the holder's software does it: pyHanko over
OpenSC's PKCS#11 module, the SIGN key ("Digital Signature Key", id 02) on the card in a
PC/SC reader, and the revocation data embedded so that the signature can be checked later
without asking anyone (PAdES B-LT: OCSP response and CRL in the document security store).

    signed = sign_pdf(Path("in.pdf"), Path("out.pdf"), pin="ABC123", reader="Virtual PCD 00 01")

- The token: OpenSC shows a JPKI card as two tokens, "JPKI (User Authentication PIN)" and
  "JPKI (Digital Signature PIN)"; the second holds the SIGN key and, after login, the SIGN
  certificate. The issuing CA's certificate ("Digital Signature Certificate CA") is a public
  object of the first. ``reader`` picks the card's reader by a part of its name or its
  PC/SC index when several are present.
- Revocation data is fetched from the URLs the certificate names (authorityInfoAccess OCSP,
  HTTP CRL distribution point — an authority initialised with ``--ocsp-url`` and
  ``--crl-url-base`` puts them there) with httpx, or given as CRL files. A certificate that
  the OCSP responder or the CRL says is revoked or held is not used: :class:`Revoked`
  carries the rule (``rules.certificate_status_decision``: R4.1 after a change of the basic
  facts, R3.7 when superseded by a new certificate, R4.3 otherwise).
- A wrong PIN is counted by the card (R1.4); the answer says how many tries are left.

The PIN goes to the token and nowhere else; the private key never leaves the card.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from openjpki.rules import (
    Refused, certificate_status_decision, pin_refused_by_card, validate_pin,
)
from openjpki.rules.kinds import CertKind, PinKind

SIGN_TOKEN = "Digital Signature PIN"
SIGN_KEY_ID = b"\x02"
SIGN_CA_LABEL = "Digital Signature Certificate CA"
MODULE_ENV = "OPENJPKI_PKCS11_MODULE"
MODULE_CANDIDATES = (
    "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/x86_64-linux-gnu/pkcs11/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
    "/usr/lib/aarch64-linux-gnu/pkcs11/opensc-pkcs11.so",
    "/usr/lib/opensc-pkcs11.so",
    "/usr/lib64/opensc-pkcs11.so",
)
HTTP_TIMEOUT = 10.0


class PdfSignError(Exception):
    """Signing could not be done (no module, no card, unreadable PDF …): one line."""


class PinRefused(PdfSignError):
    """The card refused the PIN (R1.4) or it is locked (R1.7)."""

    def __init__(self, refusal: Refused) -> None:
        super().__init__(f"{refusal.rule}: {refusal.message_en}")
        self.refusal = refusal


class Revoked(PdfSignError):
    """The SIGN certificate is revoked or on hold: nothing is signed."""

    def __init__(self, refusal: Refused, status: str, reason: str | None) -> None:
        super().__init__(f"{refusal.rule}: {refusal.message_en}")
        self.refusal, self.status, self.reason = refusal, status, reason


@dataclass(frozen=True)
class SignedPdf:
    path: Path
    subject: str
    serial: str
    ocsp_responses: int
    crls: int
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "subject": self.subject, "serial": self.serial,
                "revocation": {"ocsp": self.ocsp_responses, "crl": self.crls}, **self.details}


# --- the PKCS#11 side ------------------------------------------------------------------------

def pkcs11_module(path: str | None = None) -> str:
    """OpenSC's PKCS#11 module: ``path``, ``$OPENJPKI_PKCS11_MODULE``, or the Debian paths."""
    for candidate in (path, os.environ.get(MODULE_ENV), *MODULE_CANDIDATES):
        if candidate and Path(candidate).is_file():
            return candidate
    raise PdfSignError("OpenSC's PKCS#11 module was not found: install opensc-pkcs11 (Debian) "
                       f"or set ${MODULE_ENV}")


def _reader_filter(reader: str | int | None):
    if reader is None:
        return lambda description: True
    text = str(reader).strip()
    if text.isdigit():
        from openjpki.card.pcsc import PcscError, list_readers
        try:
            names = [r.name for r in list_readers()]
        except PcscError as e:
            raise PdfSignError(str(e)) from None
        index = int(text)
        if index >= len(names):
            raise PdfSignError(f"no reader number {index} ({len(names)} readers)")
        wanted = names[index]
        return lambda description: wanted.startswith(description.strip()) or \
            description.strip().startswith(wanted)
    return lambda description: text.lower() in description.lower()


def _find_tokens(lib, reader: str | int | None):
    """(the SIGN token's slot, the CA certificate DER) of the one JPKI card selected."""
    import pkcs11
    from pkcs11 import Attribute, ObjectClass

    matches = _reader_filter(reader)
    try:
        slots = [s for s in lib.get_slots(token_present=True) if matches(s.slot_description)]
    except pkcs11.PKCS11Error as e:
        raise PdfSignError(f"PKCS#11: cannot list the readers ({type(e).__name__})") from None
    sign_slots = [s for s in slots if SIGN_TOKEN in s.get_token().label]
    if not sign_slots:
        where = f" in a reader matching {reader!r}" if reader is not None else ""
        raise PdfSignError(f"no My Number Card{where}: insert the card (openjpki card insert)")
    if len(sign_slots) > 1:
        names = ", ".join(sorted({s.slot_description.strip() for s in sign_slots}))
        raise PdfSignError(f"cards in several readers ({names}): choose one with --reader")
    slot = sign_slots[0]
    ca_der = None
    for other in slots:
        if other.slot_description != slot.slot_description:
            continue
        with other.get_token().open() as session:
            for obj in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE}):
                if obj[Attribute.LABEL] == SIGN_CA_LABEL:
                    ca_der = bytes(obj[Attribute.VALUE])
    if ca_der is None:
        raise PdfSignError("the card shows no certificate of the signature CA")
    return slot, ca_der


def _tries_left(slot_description: str) -> int | None:
    """The SIGN PIN's tries left, asked of the card with the holder client (CARD.md)."""
    try:
        from openjpki.card import JpkiClient
        from openjpki.card.pcsc import PcscTransport
        transport = PcscTransport(slot_description.strip())
        try:
            client = JpkiClient(transport)
            client.select_jpki()
            return client.tries_left("sign")
        finally:
            transport.close()
    except Exception:  # noqa: BLE001 — only for the message; the refusal stands without it
        return None


def _pin_refusal(exc: Exception, slot_description: str) -> Refused:
    """R1.4, R1.7 in the rules' words; the tries left are asked of the card when it can say."""
    import pkcs11
    if isinstance(exc, pkcs11.PinLocked):
        return pin_refused_by_card(PinKind.SIGN, locked=True)
    return pin_refused_by_card(PinKind.SIGN, _tries_left(slot_description))


# --- revocation data ---------------------------------------------------------------------------

@dataclass
class RevocationData:
    ocsp: list[bytes] = field(default_factory=list)
    crls: list[bytes] = field(default_factory=list)
    status: str = "unknown"  # good / revoked / hold / unknown
    reason: str | None = None


def _urls(cert: x509.Certificate) -> tuple[list[str], list[str]]:
    ocsp_urls, crl_urls = [], []
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        ocsp_urls = [d.access_location.value for d in aia
                     if d.access_method == x509.AuthorityInformationAccessOID.OCSP
                     and isinstance(d.access_location, x509.UniformResourceIdentifier)]
    except x509.ExtensionNotFound:
        pass
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        crl_urls = [n.value for p in cdp for n in (p.full_name or [])
                    if isinstance(n, x509.UniformResourceIdentifier)
                    and n.value.startswith(("http://", "https://"))]
    except x509.ExtensionNotFound:
        pass
    return ocsp_urls, crl_urls


def fetch_revocation(cert: x509.Certificate, issuer: x509.Certificate,
                     extra_crls: Sequence[bytes] = ()) -> RevocationData:
    """OCSP and CRL for ``cert`` from the URLs it names (and CRLs given), with its status."""
    import httpx

    data = RevocationData(crls=list(extra_crls))
    ocsp_urls, crl_urls = _urls(cert)
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    with httpx.Client(timeout=HTTP_TIMEOUT) as client:
        for url in ocsp_urls:
            try:
                r = client.post(url, content=request.public_bytes(serialization.Encoding.DER),
                                headers={"Content-Type": "application/ocsp-request"})
                answer = ocsp.load_der_ocsp_response(r.content)
            except (httpx.HTTPError, ValueError):
                continue
            if answer.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
                continue
            data.ocsp.append(r.content)
            if answer.certificate_status == ocsp.OCSPCertStatus.GOOD:
                data.status = "good"
            elif answer.certificate_status == ocsp.OCSPCertStatus.REVOKED:
                reason = answer.revocation_reason
                data.reason = reason.value if reason is not None else None
                data.status = "hold" if reason == x509.ReasonFlags.certificate_hold \
                    else "revoked"
            break
        for url in crl_urls:
            try:
                r = client.get(url)
                r.raise_for_status()
                data.crls.append(r.content)
            except httpx.HTTPError:
                continue
    for der in data.crls:
        try:
            crl = x509.load_der_x509_crl(der)
        except ValueError:
            raise PdfSignError("a CRL given is not a DER CRL") from None
        if crl.issuer != issuer.subject:
            continue
        entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        if entry is not None and data.status != "revoked":
            try:
                reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            except x509.ExtensionNotFound:
                reason = None
            data.reason = reason.value if reason is not None else data.reason
            data.status = "hold" if reason == x509.ReasonFlags.certificate_hold else "revoked"
        elif data.status == "unknown":
            data.status = "good"
    return data


# --- signing -------------------------------------------------------------------------------------

def sign_pdf(src: Path, dst: Path, pin: str, *, reader: str | int | None = None,
             module: str | None = None, revocation: bool = True,
             crl_files: Sequence[Path] = (), moment: datetime | None = None,
             reason: str | None = None, location: str | None = None,
             field_name: str = "Signature1") -> SignedPdf:
    """Sign ``src`` into ``dst`` with the card's SIGN key (PAdES, SHA-256)."""
    import pkcs11
    from asn1crypto import crl as a_crl, ocsp as a_ocsp, x509 as a_x509
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError
    from pyhanko.sign.pkcs11 import PKCS11Signer
    from pyhanko_certvalidator import ValidationContext

    logging.getLogger("pyhanko").setLevel(logging.ERROR)
    try:
        data = Path(src).read_bytes()
    except OSError as e:
        raise PdfSignError(f"cannot read {src}: {e.strerror or e}") from None
    if not data.startswith(b"%PDF-"):
        raise PdfSignError(f"{src} is not a PDF")
    extra = []
    for f in crl_files:
        try:
            extra.append(Path(f).read_bytes())
        except OSError as e:
            raise PdfSignError(f"cannot read {f}: {e.strerror or e}") from None
    form = validate_pin(PinKind.SIGN, pin)
    if isinstance(form, Refused):  # R1.3: a PIN of the wrong form is never tried on the card
        raise PinRefused(form)
    lib = pkcs11.lib(pkcs11_module(module))
    slot, ca_der = _find_tokens(lib, reader)
    try:
        session = slot.get_token().open(user_pin=pin)
    except (pkcs11.PinIncorrect, pkcs11.PinLocked, pkcs11.PinLenRange, pkcs11.PinInvalid) as e:
        if not isinstance(e, pkcs11.PinLocked):
            e = pkcs11.PinIncorrect()
        raise PinRefused(_pin_refusal(e, slot.slot_description)) from None
    except pkcs11.PKCS11Error as e:
        raise PdfSignError(f"PKCS#11: cannot log in to the card ({type(e).__name__})") from None
    try:
        root = a_x509.Certificate.load(ca_der)
        signer = PKCS11Signer(session, key_id=SIGN_KEY_ID, cert_id=SIGN_KEY_ID,
                              other_certs_to_pull=(), ca_chain=[root])
        cert = x509.load_der_x509_certificate(signer.signing_cert.dump())
        issuer = x509.load_der_x509_certificate(ca_der)
        rev = fetch_revocation(cert, issuer, extra) if revocation else RevocationData()
        if rev.status in ("revoked", "hold"):  # R4.1, R3.7, R4.3: decided by the rules
            refusal = certificate_status_decision(CertKind.SIGN, rev.status, rev.reason)
            assert isinstance(refusal, Refused)
            raise Revoked(refusal, rev.status, rev.reason)
        if revocation and not (rev.ocsp or rev.crls):
            raise PdfSignError("no revocation data could be had for the certificate (it names "
                               "no reachable OCSP or CRL URL): give a CRL with --crl, or sign "
                               "without it")
        meta_kwargs = {}
        if revocation:
            vc = ValidationContext(
                trust_roots=[root], allow_fetching=False, revocation_mode="hard-fail",
                ocsps=[a_ocsp.OCSPResponse.load(d) for d in rev.ocsp],
                crls=[a_crl.CertificateList.load(d) for d in rev.crls],
                **({"moment": moment} if moment is not None else {}))
            meta_kwargs = {"embed_validation_info": True, "validation_context": vc}
        meta = signers.PdfSignatureMetadata(
            field_name=field_name, md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES, reason=reason, location=location,
            **meta_kwargs)
        try:
            from io import BytesIO
            writer = IncrementalPdfFileWriter(BytesIO(data))
            out = signers.sign_pdf(writer, meta, signer=signer)
        except (PdfError, SigningError, ValueError) as e:
            raise PdfSignError(f"signing failed: {e}") from None
    finally:
        session.close()
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    try:
        tmp.write_bytes(out.getvalue())
        os.replace(tmp, dst)
    except OSError as e:
        raise PdfSignError(f"cannot write {dst}: {e.strerror or e}") from None
    return SignedPdf(dst, cert.subject.rfc4514_string(), format(cert.serial_number, "x"),
                     len(rev.ocsp), len(rev.crls), {"status": rev.status})
