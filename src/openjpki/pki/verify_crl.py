"""CRLs as a relying party uses them: parsed once into a dictionary of serials, checked by
key, and asked in O(1).

Why a lean DER walk and not ``cryptography.x509.load_der_x509_crl``: a SIGN CRL grows by
millions of entries a year (PROFILES.md "Scale").  cryptography either builds one Python
object per entry when iterated (seconds for a million) or scans every entry on each
``get_revoked_certificate_by_serial_number`` call (linear per look-up).  Here the
``revokedCertificates`` list is walked once at the byte level: each entry's serial-number
octets become a dictionary key pointing at the entry's offset; the revocation date and
reason are decoded only for a serial that is asked about and found.  The header (issuer,
times, extensions) and the signature are read with the same small reader; the signature is
verified with the candidate root's key, once per (CRL, root).

Which CRL applies to a certificate (RFC 5280 §6.3.3, in the JPKI shape):
- its issuer name equals the certificate's issuer name, and it verifies with the key of the
  root the certificate's path was built to (generations share one DN: by key, not name);
- its issuingDistributionPoint names no point (the authority's full CRL), or names one of the
  certificate's distribution points (a municipality's partition);  CRLs limited to CA
  certificates, attribute certificates or some reasons, indirect and delta CRLs are not used;
- the moment checked lies before its nextUpdate.  A CRL made after that moment still
  answers for it: entries dated later are ignored (the certificate was good then).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable, Optional

from cryptography import x509

from . import der
from .path import TrustAnchor
from .verify_model import Fetch, FetchError, Revocation, unknown

_OID_AKI = der.oid("2.5.29.35")[2:]
_OID_IDP = der.oid("2.5.29.28")[2:]
_OID_DELTA = der.oid("2.5.29.27")[2:]
_OID_CRL_NUMBER = der.oid("2.5.29.20")[2:]
_OID_REASON = der.oid("2.5.29.21")[2:]
_REASONS = {0: "unspecified", 1: "keyCompromise", 2: "cACompromise", 3: "affiliationChanged",
            4: "superseded", 5: "cessationOfOperation", 6: "certificateHold", 8: "removeFromCRL",
            9: "privilegeWithdrawn", 10: "aACompromise"}
_SIG_ALGS = {der.oid(o)[2:]: o for o in ("1.2.840.113549.1.1.11", "1.2.840.113549.1.1.12", "1.2.840.113549.1.1.13")}


class CrlError(ValueError):
    """Not a CRL this verifier can use (one line)."""


def parse_time(data: bytes, start: int, tag: int, end: int) -> datetime:
    text = data[start:end].decode("ascii")
    if tag == der.UTC_TIME and len(text) == 13 and text.endswith("Z"):
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    elif not (tag == der.GENERALIZED_TIME and len(text) == 15 and text.endswith("Z")):
        raise CrlError("a time is neither UTCTime nor GeneralizedTime in Z form")
    return datetime(int(text[0:4]), int(text[4:6]), int(text[6:8]), int(text[8:10]), int(text[10:12]),
                    int(text[12:14]), tzinfo=timezone.utc)


@dataclass(eq=False)
class ParsedCrl:
    der: bytes
    tbs: bytes
    signature: bytes
    algorithm_oid: str
    issuer_der: bytes
    this_update: datetime
    next_update: Optional[datetime]
    number: int
    aki: Optional[bytes]
    scope: Optional[tuple[bytes, ...]]  # IDP fullName directoryNames (DER); None: full CRL
    usable: bool  # False for delta/indirect/CA-only/reason-limited CRLs
    entries: dict[bytes, int]  # serial octets -> offset of the entry
    verified: dict = field(default_factory=dict)  # anchor (by identity, kept alive) -> signature ok
    not_listed: Optional[Revocation] = None  # the one "good" answer of this CRL
    _covers: dict = field(default_factory=dict)  # CRLDP names of a certificate -> in scope?
    _decoded: dict = field(default_factory=dict)  # entry offset -> (revocationDate, reason)

    def __post_init__(self) -> None:
        self.not_listed = Revocation("good", "crl", detail=f"not on CRL #{self.number}")

    def __len__(self) -> int:
        return len(self.entries)

    def verified_by(self, anchor: TrustAnchor) -> bool:
        ok = self.verified.get(anchor)
        if ok is None:
            ok = self.issuer_der == anchor.subject_der and (self.aki is None or self.aki == anchor.key_id) \
                and anchor.signed(self.signature, self.tbs, self.algorithm_oid)
            self.verified[anchor] = ok
        return ok

    def covers(self, crldp_names: tuple[bytes, ...]) -> bool:
        if self.scope is None:
            return True
        known = self._covers.get(crldp_names)
        if known is None:
            known = self._covers[crldp_names] = any(name in self.scope for name in crldp_names)
        return known

    def entry(self, serial_octets: bytes) -> Optional[tuple[datetime, Optional[str]]]:
        """(revocationDate, reason name) of a listed serial, else None (decoded on the first
        look-up of that serial, then kept)."""
        offset = self.entries.get(serial_octets)
        if offset is None:
            return None
        hit = self._decoded.get(offset)
        if hit is None:
            hit = self._decoded[offset] = self._decode(offset)
        return hit

    def _decode(self, offset: int) -> tuple[datetime, Optional[str]]:
        data = self.der
        _, start, end = der.read_tlv(data, offset)
        _, _, serial_end = der.read_tlv(data, start)
        tag, tstart, tend = der.read_tlv(data, serial_end)
        revoked_at = parse_time(data, tstart, tag, tend)
        reason = None
        if tend < end:  # crlEntryExtensions
            _, estart, eend = der.read_tlv(data, tend)
            for _, _, cstart, cend in der.children(data, estart, eend):
                parts = der.children(data, cstart, cend)
                if data[parts[0][2]:parts[0][3]] == _OID_REASON:
                    _, _, ostart, oend = parts[-1]
                    _, vstart, vend = der.read_tlv(data, ostart)
                    reason = _REASONS.get(int.from_bytes(data[vstart:vend], "big"), "unspecified")
        return revoked_at, reason


def _index_entries(data: bytes, start: int, end: int) -> dict[bytes, int]:
    """serial octets -> entry offset, for every entry of revokedCertificates.  A tight loop
    over the bytes (see module docstring); entries longer than 127 octets take the general
    reader."""
    entries: dict[bytes, int] = {}
    pos = start
    while pos < end:
        n = data[pos + 1]
        k = data[pos + 3]
        # The common entry: SEQUENCE (short length) { INTEGER (short length) serial, ... }
        if n < 0x80 and k + 2 <= n and data[pos] == 0x30 and data[pos + 2] == 0x02:
            entries[data[pos + 4:pos + 4 + k]] = pos
            pos += 2 + n
            continue
        tag, body, next_pos = der.read_tlv(data, pos)
        if tag != 0x30:
            raise CrlError("a revokedCertificates entry is not a SEQUENCE")
        stag, sstart, send = der.read_tlv(data, body)
        if stag != 0x02 or send > next_pos:
            raise CrlError("a revokedCertificates entry does not start with a serial")
        entries[data[sstart:send]] = pos
        pos = next_pos
    if pos != end:
        raise CrlError("revokedCertificates overruns its list")
    return entries


def parse_crl(data: bytes) -> ParsedCrl:
    """Parse a DER (or PEM) CRL; CrlError for anything malformed."""
    if isinstance(data, (bytes, bytearray)) and bytes(data).lstrip().startswith(b"-----BEGIN"):
        try:
            from cryptography.hazmat.primitives import serialization
            data = x509.load_pem_x509_crl(bytes(data)).public_bytes(serialization.Encoding.DER)
        except ValueError:
            raise CrlError("not a PEM CRL") from None
    data = bytes(data)
    try:
        return _parse(data)
    except CrlError:
        raise
    except (ValueError, IndexError, UnicodeDecodeError) as e:
        raise CrlError(f"not a DER CRL ({e})") from None


def _parse(data: bytes) -> ParsedCrl:
    tag, start, end = der.read_tlv(data)
    if tag != der.SEQUENCE or end != len(data):
        raise CrlError("not a DER CRL")
    parts = der.children(data, start, end)
    if len(parts) != 3 or parts[2][0] != der.BIT_STRING:
        raise CrlError("a CRL is tbsCertList, signatureAlgorithm, signature")
    (_, tbs_h, tbs_s, tbs_e), (_, _, alg_s, alg_e), (_, _, sig_s, sig_e) = parts
    alg_oid_tlv = der.children(data, alg_s, alg_e)[0]
    algorithm = _SIG_ALGS.get(data[alg_oid_tlv[2]:alg_oid_tlv[3]], "unsupported")
    fields = der.children(data, tbs_s, tbs_e)
    i = 1 if fields and fields[0][0] == der.INTEGER else 0  # version v2
    issuer = data[fields[i + 1][1]:fields[i + 1][3]]
    this_update = parse_time(data, fields[i + 2][2], fields[i + 2][0], fields[i + 2][3])
    i += 3
    next_update = None
    if i < len(fields) and fields[i][0] in (der.UTC_TIME, der.GENERALIZED_TIME):
        next_update = parse_time(data, fields[i][2], fields[i][0], fields[i][3])
        i += 1
    entries: dict[bytes, int] = {}
    if i < len(fields) and fields[i][0] == der.SEQUENCE:
        entries = _index_entries(data, fields[i][2], fields[i][3])
        i += 1
    aki = None
    scope: Optional[tuple[bytes, ...]] = None
    number = 0
    usable = True
    if i < len(fields) and fields[i][0] == 0xA0:
        _, estart, eend = der.read_tlv(data, fields[i][2])
        for _, _, cstart, cend in der.children(data, estart, eend):
            ext = der.children(data, cstart, cend)
            oid = data[ext[0][2]:ext[0][3]]
            critical = len(ext) == 3 and data[ext[1][2]:ext[1][3]] == b"\xff"
            _, vstart, vend = ext[-1][0], ext[-1][2], ext[-1][3]
            if oid == _OID_AKI:
                for t, _, s, e in der.children(data, *der.read_tlv(data, vstart)[1:]):
                    if t == 0x80:
                        aki = data[s:e]
            elif oid == _OID_CRL_NUMBER:
                _, s, e = der.read_tlv(data, vstart)
                number = int.from_bytes(data[s:e], "big")
            elif oid == _OID_IDP:
                scope, usable_idp = _idp(data, vstart, vend)
                usable = usable and usable_idp
            elif oid == _OID_DELTA or critical:
                usable = False  # a delta CRL, or a critical extension not understood here
    return ParsedCrl(der=data, tbs=data[tbs_h:tbs_e], signature=data[sig_s + 1:sig_e], algorithm_oid=algorithm,
                     issuer_der=issuer, this_update=this_update, next_update=next_update, number=number,
                     aki=aki, scope=scope, usable=usable, entries=entries)


def _idp(data: bytes, vstart: int, vend: int) -> tuple[Optional[tuple[bytes, ...]], bool]:
    """(the directoryNames it names, or None for none; usable for end-entity certificates)."""
    _, s, e = der.read_tlv(data, vstart)
    names: Optional[list[bytes]] = None
    usable = True
    for tag, _, cs, ce in der.children(data, s, e):
        if tag == 0xA0:  # distributionPoint
            names = []
            for t2, _, s2, e2 in der.children(data, cs, ce):
                if t2 != 0xA0:  # nameRelativeToCRLIssuer: not used by JPKI
                    usable = False
                    continue
                for t3, _, s3, e3 in der.children(data, s2, e2):
                    if t3 == 0xA4:  # directoryName [4] EXPLICIT Name
                        names.append(data[s3:e3])
        elif tag == 0x83:  # onlySomeReasons: a partial CRL, not a full answer
            usable = False
        elif tag in (0x82, 0x84, 0x85) and data[cs:ce] != b"\x00":
            usable = False  # onlyContainsCACerts, indirectCRL, onlyContainsAttributeCerts
    return (tuple(names) if names is not None else None), usable


class CrlSource:
    """Revocation by CRLs: those given, and (with ``fetch``) those at the certificate's HTTP
    distribution points, fetched once and kept until their nextUpdate."""

    def __init__(self, crls: Iterable[bytes] = (), *, fetch: Optional[Fetch] = None) -> None:
        self.fetch = fetch
        self._by_issuer: dict[bytes, list[ParsedCrl]] = {}
        self._fetched: dict[str, ParsedCrl] = {}
        for crl in crls:
            self.add(crl)

    def add(self, crl: bytes | ParsedCrl) -> ParsedCrl:
        parsed = crl if isinstance(crl, ParsedCrl) else parse_crl(crl)
        bucket = self._by_issuer.setdefault(parsed.issuer_der, [])
        bucket.append(parsed)
        bucket.sort(key=lambda c: (c.number, c.this_update), reverse=True)  # newest first
        return parsed

    def crls(self) -> list[ParsedCrl]:
        return [c for bucket in self._by_issuer.values() for c in bucket]

    def _answer(self, cert, anchor: TrustAnchor, at: datetime) -> Optional[Revocation]:
        stale = False
        for crl in self._by_issuer.get(cert.issuer_der, ()):
            if not crl.usable or not crl.covers(cert.crldp_names) or not crl.verified_by(anchor):
                continue
            if crl.next_update is not None and at >= crl.next_update:
                stale = True
                continue
            hit = crl.entry(cert.serial_octets)
            if hit is None or hit[0] > at:
                return crl.not_listed
            revoked_at, reason = hit
            state = "hold" if reason == "certificateHold" else "revoked"
            return Revocation(state, "crl", revoked_at, reason or "unspecified", f"on CRL #{crl.number}")
        return unknown("crl", "the CRL is stale (past its nextUpdate)" if stale else "no CRL covers the certificate")

    def check(self, cert, anchor: TrustAnchor, at: datetime) -> Optional[Revocation]:
        answer = self._answer(cert, anchor, at)
        if answer is not None and answer.known or self.fetch is None or not cert.crl_urls:
            return answer
        for url in cert.crl_urls:
            cached = self._fetched.get(url)
            if cached is not None and (cached.next_update is None or at < cached.next_update):
                continue  # already have it, and it did not answer
            try:
                parsed = self.add(self.fetch(url, None, None))
            except (FetchError, CrlError) as e:
                answer = unknown("crl", f"{url}: {e}")
                continue
            if cached is not None:  # replaced by the newer one
                bucket = self._by_issuer.get(cached.issuer_der, [])
                if cached in bucket:
                    bucket.remove(cached)
            self._fetched[url] = parsed
            answer = self._answer(cert, anchor, at)
            if answer is not None and answer.known:
                return answer
        return answer
