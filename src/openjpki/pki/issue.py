"""Making the roots and issuing end-entity certificates from the profiles.

The TBSCertificate is assembled with the small DER writer (:mod:`openjpki.pki.der`) and
signed through :class:`~openjpki.pki.signer.Signer`; everything derived from the issuer
(its name, key identifier, alternative name, CRL names) is computed once per
(issuer, kind, options) and cached, so issuing costs little more than the RSA signature.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from . import der, names, profiles
from .facts import SignFacts, encode_sign_san
from .model import Kind, ProfileOptions
from .signer import Signer, check_rsa_public_key

JST = timezone(timedelta(hours=9), "JST")
END_OF_DAY = time(23, 59, 59, tzinfo=JST)
MAX_SERIAL = 2**159

_VERSION_3 = der.explicit(0, der.integer(2))
_ID_AD_OCSP = der.oid("1.3.6.1.5.5.7.48.1")


def new_serial() -> int:
    """A fresh certificate serial number: 126 random bits under a fixed top bit.

    Always positive, always 16 octets of DER content (< 2**127, far below the 20-octet limit
    of RFC 5280 §4.1.2.2), and with ≥ 64 bits of CSPRNG output as the CA/B and JPKI practice
    asks.  Uniqueness is further enforced by the store's unique constraint.
    """
    return (1 << 126) | secrets.randbits(126)


def end_of_day_jst(day: date) -> datetime:
    """23:59:59 JST of ``day`` (= 14:59:59Z), the notAfter of JPKI certificates."""
    return datetime.combine(day, END_OF_DAY).astimezone(timezone.utc)


def _aware(moment: datetime, what: str) -> datetime:
    if type(moment) is datetime and moment.tzinfo is timezone.utc and not moment.microsecond:
        return moment
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return moment.astimezone(timezone.utc).replace(microsecond=0)


def _ext(oid: str, critical: bool, value: bytes) -> bytes:
    return der.seq(der.oid(oid), der.boolean(True) if critical else b"", der.octet_string(value))


def _spki(public_key: rsa.RSAPublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _key_id(public_key: rsa.RSAPublicKey) -> bytes:
    return x509.SubjectKeyIdentifier.from_public_key(public_key).digest


# SubjectPublicKeyInfo of every RSA-2048 key with a full-length modulus: 24 octets of header
# (AlgorithmIdentifier rsaEncryption, BIT STRING), then RSAPublicKey, whose modulus INTEGER
# has 257 content octets; e = 65537 ends it.  Checking the bytes is much cheaper than
# public_numbers(), and the key bits give the key identifier directly.
_RSA2048_SPKI_HEAD = bytes.fromhex("30820122300d06092a864886f70d01010105000382010f00" "3082010a0282010100")
_E65537_TAIL = bytes.fromhex("0203010001")


def _card_key(public_key: rsa.RSAPublicKey | bytes) -> tuple[bytes, bytes]:
    """(SubjectPublicKeyInfo DER, key identifier) of an RSA-2048, e=65537 public key."""
    if isinstance(public_key, (bytes, bytearray)):
        try:
            public_key = serialization.load_der_public_key(bytes(public_key))  # type: ignore[assignment]
        except ValueError:
            raise ValueError("public_key is not a SubjectPublicKeyInfo") from None
    try:
        spki = _spki(public_key)  # type: ignore[arg-type]
    except (AttributeError, TypeError, ValueError):
        raise ValueError("public_key must be an RSA public key") from None
    # The bytes say it all: rsaEncryption, a 2048-bit modulus with its top bit set, e = 65537
    # (checking them is cheaper than isinstance on the ABC and public_numbers()).
    if not (len(spki) == 294 and spki.startswith(_RSA2048_SPKI_HEAD) and spki[33] & 0x80
            and spki.endswith(_E65537_TAIL)):
        check_rsa_public_key(public_key, "public_key")  # raises with the reason
        raise ValueError("public_key must be RSA-2048 with e=65537")  # pragma: no cover
    return spki, hashlib.sha1(spki[24:]).digest()  # RFC 5280 §4.2.1.2 method (1)


def _dir_name(name_der: bytes) -> bytes:
    return der.explicit(4, name_der)  # GeneralName directoryName [4] (Name is a CHOICE)


def _uri(url: str) -> bytes:
    return der.implicit(6, der.ia5(url), constructed=False)


def _crldp(*general_names: bytes) -> bytes:
    # CRLDistributionPoints ::= SEQUENCE OF DistributionPoint; one point, fullName only
    full_name = der.tlv(0xA0, b"".join(general_names))
    return der.seq(der.seq(der.explicit(0, full_name)))


def _sign_and_load(tbs: bytes, signer: Signer) -> x509.Certificate:
    return x509.load_der_x509_certificate(_signed(tbs, signer))


def _signed(tbs: bytes, signer: Signer) -> bytes:
    signature = signer.sign(tbs)
    if len(signature) == 256 and 0x100 <= len(tbs) < 0xFEEE:  # RSA-2048: the usual case, inline
        body = (len(tbs) + len(_ALG_AND_BITS_HEAD) + 256).to_bytes(2, "big")
        return b"".join((b"\x30\x82", body, tbs, _ALG_AND_BITS_HEAD, signature))
    return der.seq(tbs, der.SHA256_WITH_RSA, der.bit_string(signature))


_ALG_AND_BITS_HEAD = der.SHA256_WITH_RSA + b"\x03\x82\x01\x01\x00"  # BIT STRING of 256 octets


def _tbs(serial: int, issuer: bytes, not_before: datetime, not_after: datetime, subject: bytes,
         spki: bytes, extensions: list[bytes]) -> bytes:
    if not 0 < serial < MAX_SERIAL:
        raise ValueError("serial must be positive and below 2**159 (at most 20 octets)")
    validity = der.seq(der.x509_time(not_before), der.x509_time(not_after))
    return der.seq(_VERSION_3, der.integer(serial), der.SHA256_WITH_RSA, issuer, validity, subject, spki,
                   der.explicit(3, der.seq(*extensions)))


# --- roots ---------------------------------------------------------------------------------


def root_not_after(not_before: datetime, years: int = profiles.ROOT.validity_years) -> datetime:
    """End of the day before the ``years``-th anniversary, in JST (2023-07-16 → 2033-07-15
    23:59:59 JST, as on the real roots)."""
    start = not_before.astimezone(JST).date()
    try:
        anniversary = start.replace(year=start.year + years)
    except ValueError:  # 29 February
        anniversary = date(start.year + years, 3, 1)
    return end_of_day_jst(anniversary - timedelta(days=1))


def make_root(kind: Kind, signer: Signer, *, not_before: datetime,
              options: ProfileOptions = ProfileOptions(), serial: int | None = None) -> x509.Certificate:
    """A self-signed JPKI root for ``kind`` (PROFILES.md "Authorities"), valid 10 years.

    Names, string types, extensions, their order and criticality are those of the real 2023
    roots; in the test environment the names say JPKI-TEST.  URL options do not apply to
    roots (the real roots carry only the directoryName distribution point).
    """
    kind = Kind(kind)
    not_before = _aware(not_before, "not_before")
    public_key = check_rsa_public_key(signer.public_key(), "CA key")
    authority = names.authority_names(kind, options.environment)
    subject = names.encode_name(authority.subject)
    renderers = {
        "key_usage": lambda: der.named_bits(profiles.ROOT.key_usage),
        "root_alt_name": lambda: der.seq(_dir_name(names.encode_name(authority.alt_name))),
        "ca_true": lambda: der.seq(der.boolean(True)),
        "root_crldp": lambda: _crldp(_dir_name(subject)),
        "ski": lambda: der.octet_string(_key_id(public_key)),
    }
    extensions = [_ext(e.oid, e.critical, renderers[e.source]()) for e in profiles.ROOT.extensions]
    tbs = _tbs(serial or new_serial(), subject, not_before, root_not_after(not_before), subject,
               _spki(public_key), extensions)
    return _sign_and_load(tbs, signer)


# --- end entities --------------------------------------------------------------------------


@dataclass(frozen=True)
class _IssuerContext:
    """What issuing needs from an issuer, computed once (see module docstring).

    The profile is compiled into a template: ``exts`` lists the extensions in profile order,
    each either its finished DER (everything that does not depend on the holder: keyUsage,
    policies, issuerAltName, AIA, AKI) or a slot filled per certificate, ``(source, extnID
    [critical])`` with source ``ski``, ``sign_facts`` or ``ee_crldp``; consecutive finished
    ones are joined, so issuing only renders the holder's parts and concatenates.
    ``subject_template`` likewise: finished RDNs for constants, ``(oid, string type, field)``
    for ``subject_id``, ``prefecture`` and ``municipality``.
    """

    kind: Kind
    name: bytes
    subject: x509.Name
    not_before: datetime
    not_after: datetime
    head: bytes  # SHA256_WITH_RSA || issuer Name: what follows the serial up to the validity
    exts: tuple[bytes | tuple[str, bytes], ...]
    subject_template: tuple[bytes | tuple[str, str, str], ...]
    authority_crldp: bytes  # GeneralName directoryName for the AUTH scope
    crldp_cache: dict[tuple[str | None, str | None], bytes]  # rendered CRLDP per place


def authority_kind(issuer: x509.Certificate) -> tuple[Kind, str]:
    """Which authority ``issuer`` is, and its environment, from its subject's O and OU."""
    org = [a.value for a in issuer.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)]
    units = [a.value for a in issuer.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)]
    for env in ("production", "test"):
        for kind in Kind:
            expect = names.authority_names(kind, env).subject  # type: ignore[arg-type]
            if org == [expect[1][2]] and units[:1] == [expect[2][2]]:
                return kind, env
    raise ValueError("the issuer is not a JPKI root made by this package (unknown subject)")


# The slots of a profile filled per certificate; every other source is rendered once.
_HOLDER_SLOTS = ("ski", "sign_facts", "ee_crldp")


def _compile(parts: list) -> tuple:
    """Join consecutive finished parts (bytes) of a template."""
    out: list = []
    for part in parts:
        if isinstance(part, bytes) and out and isinstance(out[-1], bytes):
            out[-1] = out[-1] + part  # type: ignore[operator]
        else:
            out.append(part)
    return tuple(out)


@lru_cache(maxsize=64)
def _issuer_context(issuer: x509.Certificate, kind: Kind, options: ProfileOptions) -> _IssuerContext:
    issuer_kind, env = authority_kind(issuer)
    if issuer_kind is not kind:
        raise ValueError(f"a {kind.value} certificate cannot be issued by the {issuer_kind.value} authority")
    if env != options.environment:
        raise ValueError(f"options say {options.environment!r} but the issuer is a {env} authority")
    profile = profiles.END_ENTITY[kind]
    try:
        aki = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        aki = _key_id(issuer.public_key())  # type: ignore[arg-type]
    # issuerAltName: the root's alternative name, C and O (PROFILES.md: C=JP, O=公的個人認証サービス)
    try:
        root_alt = issuer.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        dir_names = root_alt.get_values_for_type(x509.DirectoryName)
        ian_name = x509.Name(list(dir_names[0].rdns)[:2]) if dir_names else None
    except x509.ExtensionNotFound:
        ian_name = None
    if ian_name is None:
        ian_name = x509.Name([x509.RelativeDistinguishedName([x509.NameAttribute(x509.NameOID.COUNTRY_NAME, "JP")]),
                              x509.RelativeDistinguishedName([x509.NameAttribute(x509.NameOID.ORGANIZATION_NAME, names.SERVICE_JA)])])
    static = {
        "key_usage": _ext(profiles.KEY_USAGE, True, der.named_bits(profile.key_usage)),
        "policies": _ext(profiles.CERTIFICATE_POLICIES, False,
                         der.seq(der.seq(der.oid(profile.policies[options.environment])))),
        "issuer_alt_name": _ext(profiles.ISSUER_ALT_NAME, False, der.seq(_dir_name(ian_name.public_bytes()))),
        "aki": _ext(profiles.AUTHORITY_KEY_IDENTIFIER, False, der.seq(der.implicit(0, der.octet_string(aki), False))),
    }
    if options.ocsp_url:
        static["ocsp_aia"] = _ext(profiles.AUTHORITY_INFO_ACCESS, False,
                                  der.seq(der.seq(_ID_AD_OCSP, _uri(options.ocsp_url))))
    exts: list[bytes | tuple[str, bytes]] = []
    for e in profile.extensions:
        if e.source in static:
            exts.append(static[e.source])
        elif e.source in _HOLDER_SLOTS:  # (slot, extnID [+ critical]) rendered per certificate
            exts.append((e.source, der.oid(e.oid) + (der.boolean(True) if e.critical else b"")))
        elif not e.optional:  # pragma: no cover - a profile naming an unknown renderer
            raise AssertionError(f"no renderer for {e.source}")
    subject_template = [_rdn(oid, st, src[1:]) if src.startswith("=") else (oid, st, src)
                        for oid, st, src in profile.subject]
    name = issuer.subject.public_bytes()
    return _IssuerContext(
        kind=kind,
        name=name,
        subject=issuer.subject,
        not_before=issuer.not_valid_before_utc,
        not_after=issuer.not_valid_after_utc,
        head=der.SHA256_WITH_RSA + name,
        exts=_compile(exts),
        subject_template=_compile(subject_template),
        authority_crldp=_dir_name(names.authority_crldp_name(issuer.subject).public_bytes()),
        crldp_cache={},
    )


# Hashing a Certificate hashes its DER (~17 µs); issuing keeps the issuer object and looks it
# up by identity first.  The entry holds the issuer, so its id cannot be reused meanwhile.
_RECENT: dict[tuple[int, Kind, ProfileOptions], tuple[x509.Certificate, _IssuerContext]] = {}


def _context_for(issuer: x509.Certificate, kind: Kind, options: ProfileOptions) -> _IssuerContext:
    global _LAST
    last = _LAST  # one tuple, replaced whole: threads always see a consistent one
    if last[0] is issuer and last[1] is kind and last[2] is options:
        return last[3]  # the same objects as the previous call: no hashing at all
    key = (id(issuer), kind, options)
    hit = _RECENT.get(key)
    if hit is not None and hit[0] is issuer:
        ctx = hit[1]
    else:
        ctx = _issuer_context(issuer, kind, options)
        if len(_RECENT) >= 64:
            _RECENT.clear()
        _RECENT[key] = (issuer, ctx)
    _LAST = (issuer, kind, options, ctx)
    return ctx


# (issuer, kind, options, context) of the previous call
_LAST: tuple = (None, None, None, None)


def _check_id(subject_id: str) -> None:
    if not isinstance(subject_id, str) or not subject_id.strip():
        raise ValueError("subject_id must be a non-empty string")
    if len(subject_id) > names.UB_COMMON_NAME:
        raise ValueError(f"subject_id is longer than {names.UB_COMMON_NAME} characters")
    if not subject_id.isprintable():
        raise ValueError("subject_id contains control or non-printable characters")


@lru_cache(maxsize=4096)
def _not_after(last_valid_day: date) -> tuple[datetime, bytes]:
    """notAfter of a certificate whose last day is ``last_valid_day``, and its DER Time."""
    moment = end_of_day_jst(last_valid_day)
    return moment, der.x509_time(moment)


def issue_certificate(kind: Kind, **arguments: Any) -> x509.Certificate:
    """:func:`issue_certificate_der`'s certificate, parsed (the arguments are the same)."""
    return x509.load_der_x509_certificate(issue_certificate_der(kind, **arguments))


def issue_certificate_der(
    kind: Kind,
    *,
    issuer: x509.Certificate,
    signer: Signer,
    public_key: rsa.RSAPublicKey | bytes,
    serial: int,
    not_before: datetime,
    last_valid_day: date,
    subject_id: str,
    prefecture: str | None = None,
    municipality: str | None = None,
    facts: SignFacts | None = None,
    options: ProfileOptions = ProfileOptions(),
) -> bytes:
    """Issue a SIGN or AUTH certificate per its profile (PROFILES.md "End-entity certificates"):
    its DER, as signed (storing it needs no parse and no re-encoding).

    ``public_key``: the card's RSA-2048 key (object, or SubjectPublicKeyInfo DER).
    ``last_valid_day``: the certificate's last day (RULES.md §2); notAfter is 23:59:59 JST
    of that day.  SIGN needs ``prefecture``, ``municipality`` (the issuing municipality,
    which decides the CRL partition) and ``facts``; AUTH takes neither facts nor places
    (prefecture/municipality are ignored for AUTH, facts are refused).
    Raises ValueError on anything the profile cannot carry.
    """
    if kind.__class__ is not Kind:
        kind = Kind(kind)
    ctx = _context_for(issuer, kind, options)
    spki, key_id = _card_key(public_key)
    _check_id(subject_id)
    not_before = _aware(not_before, "not_before")
    if last_valid_day.__class__ is not date and (
            not isinstance(last_valid_day, date) or isinstance(last_valid_day, datetime)):
        raise ValueError("last_valid_day must be a date")
    not_after, not_after_der = _not_after(last_valid_day)
    if not_after <= not_before:
        raise ValueError("last_valid_day is before not_before")
    if not_before < ctx.not_before or not_after > ctx.not_after:
        raise ValueError("the certificate would not lie within the issuer's validity")
    if not 0 < serial < MAX_SERIAL:
        raise ValueError("serial must be positive and below 2**159 (at most 20 octets)")

    if kind is Kind.SIGN:
        if prefecture is None or municipality is None:
            raise ValueError("a SIGN certificate needs the issuing prefecture and municipality")
        names.check_place(prefecture, municipality)
        if not isinstance(facts, SignFacts):
            raise ValueError("a SIGN certificate needs the holder's facts (SignFacts)")
    elif facts is not None:
        raise ValueError("an AUTH certificate carries no personal facts")

    subject = []
    for part in ctx.subject_template:
        if part.__class__ is bytes:
            subject.append(part)
        else:
            oid, string_type, field = part
            if field == "subject_id":
                subject.append(_rdn(oid, string_type, subject_id))
            else:  # a place: few distinct values, cached
                value = prefecture if field == "prefecture" else municipality
                subject.append(_place_rdn(oid, string_type, value))  # type: ignore[arg-type]
    extensions = []
    for part in ctx.exts:
        if part.__class__ is bytes:
            extensions.append(part)
            continue
        slot, head = part
        if slot == "ski":
            value = der.octet_string(key_id)
        elif slot == "sign_facts":
            value = encode_sign_san(facts)  # type: ignore[arg-type]
        else:  # ee_crldp: the same few values over and over, cached with its header
            place = (prefecture, municipality) if kind is Kind.SIGN else (None, None)
            rendered = ctx.crldp_cache.get(place)
            if rendered is None:
                rendered = der.seq(head, der.octet_string(_ee_crldp(ctx, kind, prefecture, municipality, options)))
                if len(ctx.crldp_cache) < 4096:
                    ctx.crldp_cache[place] = rendered
            extensions.append(rendered)
            continue
        extensions.append(der.seq(head, der.octet_string(value)))
    # validity: UTCTime or GeneralizedTime, 15 or 17 octets each: always short-form lengths
    time_before = der.x509_time(not_before)
    validity = _SHORT_SEQ[len(time_before) + len(not_after_der)] + time_before + not_after_der
    tbs = der.seq(_VERSION_3, der.integer(serial), ctx.head, validity, der.seq(*subject), spki,
                  der.explicit(3, der.seq(*extensions)))
    return _signed(tbs, signer)


_SHORT_SEQ = [bytes((0x30, n)) for n in range(128)]


def _rdn(oid: str, string_type: str, value: str) -> bytes:
    """One RDN of one attribute (as :func:`names.encode_name` writes them)."""
    encoded = der.printable(value) if string_type == names.PRINTABLE else der.utf8(value)
    return der.tlv(der.SET, der.seq(der.oid(oid), encoded))


_place_rdn = lru_cache(maxsize=8192)(_rdn)


def _ee_crldp(ctx: _IssuerContext, kind: Kind, prefecture: str | None, municipality: str | None,
              options: ProfileOptions) -> bytes:
    if kind is Kind.SIGN:
        assert prefecture is not None and municipality is not None
        general = [_dir_name(_partition_dn(ctx.subject, prefecture, municipality))]
        url = f"{options.crl_url_base}{options.crl_path}/sign/{names.partition_id(prefecture, municipality)}.crl"
    else:
        general = [ctx.authority_crldp]
        url = f"{options.crl_url_base}{options.crl_path}/{kind.value}.crl"
    if options.crl_url_base:
        general.append(_uri(url))
    return _crldp(*general)


@lru_cache(maxsize=4096)
def _partition_dn(issuer_subject: x509.Name, prefecture: str, municipality: str) -> bytes:
    return names.partition_name(issuer_subject, prefecture, municipality).public_bytes()


# --- reading back --------------------------------------------------------------------------


def kind_of(cert: x509.Certificate) -> Kind | None:
    """SIGN or AUTH for an end-entity certificate of ours (by its policy), else None."""
    try:
        policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    except x509.ExtensionNotFound:
        return None
    oids = {p.policy_identifier.dotted_string for p in policies}
    for kind, profile in profiles.END_ENTITY.items():
        if oids & set(profile.policies.values()):
            return kind
    return None


def partition_of(cert: x509.Certificate) -> str | None:
    """The SIGN CRL partition of ``cert`` (see :func:`openjpki.pki.names.partition_id`),
    decided at issue by the issuing municipality in its subject; None for AUTH and roots."""
    places = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.LOCALITY_NAME)]
    if kind_of(cert) is not Kind.SIGN or len(places) != 2:
        return None
    return names.partition_id(str(places[0]), str(places[1]))
