"""pkilint (a linter we did not write), through its Python API: the same validator
containers its lint_pkix_cert, lint_crl and lint_ocsp_response commands build."""

from __future__ import annotations

from pkilint import loader, pkix
from pkilint.pkix import certificate, crl, extension, name, ocsp
from pkilint.validation import ValidationFindingSeverity

_CERT = certificate.create_pkix_certificate_validator_container(
    certificate.create_decoding_validators(name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS),
    [
        certificate.create_issuer_validator_container([]),
        certificate.create_validity_validator_container(),
        certificate.create_subject_validator_container([]),
        certificate.create_extensions_validator_container([]),
        certificate.create_spki_validator_container([]),
    ],
)
_CRL = crl.create_pkix_crl_validator_container(
    [pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS), pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS)],
    [
        crl.create_issuer_validator_container([]),
        crl.create_validity_validator_container([]),
        crl.create_extensions_validator_container([]),
    ],
)
_OCSP = ocsp.create_pkix_ocsp_response_validator_container(
    [
        ocsp.create_response_decoder(),
        pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
        pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
    ],
    [],
)


def _findings(validator, doc_loader, data: bytes) -> list[tuple[str, str]]:
    doc = doc_loader.load_der_document(data, "document")
    out = []
    for result in validator.validate(doc.root):
        for desc in result.finding_descriptions:
            if desc.finding.severity <= ValidationFindingSeverity.WARNING:
                out.append((desc.finding.severity.name, desc.finding.code))
    return out


def lint_certificate(der: bytes) -> list[tuple[str, str]]:
    """Findings of severity WARNING or worse, as (severity, code)."""
    return _findings(_CERT, loader.RFC5280CertificateDocumentLoader(), der)


def lint_crl(der: bytes) -> list[tuple[str, str]]:
    return _findings(_CRL, loader.RFC5280CertificateListDocumentLoader(), der)


def lint_ocsp_response(der: bytes) -> list[tuple[str, str]]:
    return _findings(_OCSP, loader.RFC6960OCSPResponseDocumentLoader(), der)
