"""CMS / PKCS#7 SignedData (RFC 5652), detached, as made by ``openssl cms -sign -binary
-detach`` or cryptography's PKCS7SignatureBuilder: unpacked with asn1crypto into what the
verifier checks (the signer's certificate, the bytes signed, the signature, the digest).

Checked here, before any certificate work:
- content type signedData, exactly one SignerInfo;
- the digest algorithm is SHA-256/384/512 and the signature algorithm RSA PKCS#1 v1.5
  (rsaEncryption or shaNNNWithRSAEncryption), what the card's sign command makes;
- with signedAttrs (the usual case): a contentType attribute equal to the eContentType and a
  messageDigest attribute equal to the digest of the file; the signature is then over the DER
  of the attributes as a SET OF (RFC 5652 §5.4);  without: the signature is over the file;
- an encapsulated content, when present, equals the file.
The signer's certificate is found by issuerAndSerialNumber or subjectKeyIdentifier among the
certificates the message carries, or the one given by the caller.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Optional

from asn1crypto import cms as asn1_cms
from cryptography.hazmat.primitives import hashes

_DIGESTS = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}
_RSA_SIGS = {"rsassa_pkcs1v15", "sha256_rsa", "sha384_rsa", "sha512_rsa"}


_FIRST = frozenset(b"0-\t\n\r ")  # SEQUENCE tag 0x30, or PEM armour after whitespace


class CmsError(ValueError):
    """Not a CMS SignedData this verifier can use (one line)."""


@dataclass(frozen=True)
class CmsSignature:
    signed_bytes: bytes  # what the RSA signature is over
    signature: bytes
    hash_algorithm: type[hashes.HashAlgorithm]
    digest_ok: bool  # messageDigest equals the file's digest (True when no signedAttrs)
    certificate: Optional[bytes]  # DER of the signer's certificate, when found
    detail: str = ""


def looks_like_cms(data: bytes) -> bool:
    """A cheap test: PEM PKCS7/CMS armour, or DER starting with the signedData OID."""
    if not data or data[0] not in _FIRST:  # the common case, a raw RSA signature: one test
        return False
    head = data[:64].lstrip()
    if head.startswith(b"-----BEGIN PKCS7") or head.startswith(b"-----BEGIN CMS"):
        return True
    return len(data) > 20 and data[0] == 0x30 and b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" in data[:24]


def _der(data: bytes) -> bytes:
    text = data.lstrip()
    if text.startswith(b"-----BEGIN"):
        lines = [ln for ln in text.splitlines() if ln and not ln.startswith(b"-----")]
        try:
            return base64.b64decode(b"".join(lines), validate=True)
        except ValueError:
            raise CmsError("the PEM armour does not hold base64") from None
    return data


def parse_cms(data: bytes, content: bytes, certificate: Optional[bytes] = None) -> CmsSignature:
    """Unpack a detached SignedData over ``content`` (see module docstring); CmsError when it
    is not one this verifier understands.  ``certificate`` (DER) is used when the message
    carries none of its own for the signer."""
    try:
        info = asn1_cms.ContentInfo.load(_der(bytes(data)), strict=True)
        if info["content_type"].native != "signed_data":
            raise CmsError("the CMS message is not SignedData")
        signed = info["content"]
        signers = signed["signer_infos"]
        if len(signers) != 1:
            raise CmsError(f"the CMS message has {len(signers)} signers; one is expected")
        signer = signers[0]
        encap = signed["encap_content_info"]
        econtent = encap["content"].native if encap["content"] else None
        if econtent is not None and econtent != content:
            return CmsSignature(b"", b"", hashes.SHA256, False, None, "the encapsulated content is not the file")
        digest_name = signer["digest_algorithm"]["algorithm"].native
        hash_cls = _DIGESTS.get(digest_name)
        if hash_cls is None:
            raise CmsError(f"digest algorithm {digest_name} is not supported")
        sig_alg = signer["signature_algorithm"]["algorithm"].native
        if sig_alg not in _RSA_SIGS:
            raise CmsError(f"signature algorithm {sig_alg} is not supported (RSA PKCS#1 v1.5 only)")
        signature = signer["signature"].native
        attrs = signer["signed_attrs"]
        detail = ""
        if attrs.native is None or len(attrs) == 0:
            signed_bytes, digest_ok = content, True
        else:
            values = {a["type"].native: a["values"] for a in attrs}
            digest = values.get("message_digest")
            ctype = values.get("content_type")
            if digest is None or len(digest) != 1 or ctype is None or len(ctype) != 1:
                raise CmsError("signedAttrs need one contentType and one messageDigest")
            if ctype[0].native != encap["content_type"].native:
                raise CmsError("the contentType attribute differs from the eContentType")
            digest_ok = digest[0].native == hashlib.new(digest_name, content).digest()
            if not digest_ok:
                detail = "the messageDigest is not the digest of the file"
            signed_bytes = b"\x31" + attrs.dump()[1:]  # [0] IMPLICIT -> SET OF (RFC 5652 §5.4)
        cert_der = _find_signer(signed, signer["sid"]) or certificate
    except CmsError:
        raise
    except (ValueError, TypeError, KeyError) as e:
        raise CmsError(f"not a CMS SignedData ({type(e).__name__})") from None
    return CmsSignature(signed_bytes, signature, hash_cls, digest_ok, cert_der, detail)


def _find_signer(signed, sid) -> Optional[bytes]:
    certs = signed["certificates"]
    if certs.native is None:
        return None
    for choice in certs:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            ias = sid.chosen
            if cert.serial_number == ias["serial_number"].native and cert.issuer == ias["issuer"]:
                return cert.dump()
        elif sid.name == "subject_key_identifier":
            if cert.key_identifier == sid.chosen.native:
                return cert.dump()
    return None

