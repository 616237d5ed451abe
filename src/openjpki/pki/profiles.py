"""Certificate profiles as data: one declarative description per certificate kind.

Each profile lists the subject attributes and the extensions *in order*; the issuing code
(:mod:`openjpki.pki.issue`) only renders what a profile says.  Sources: the 2023 roots
(copies in tests/pki/data) and docs/PROFILES.md.

Decisions where PROFILES.md is open:
- AUTH test policy OID ``1.2.392.200149.8.5.1.2.30``: SIGN's production arc ``.1.1.20`` has
  the test arc ``.1.0.20`` (one lower); AUTH's production ``.1.3.30`` gets ``.1.2.30`` alike.
- AUTH CRL distribution point: directoryName ``<C, O, OU of the AUTH root>,
  OU=CRL Distribution Points`` (one unpartitioned AUTH CRL: AUTH certificates name no
  municipality).
- An HTTP CRL URI and an OCSP URI are added only when ProfileOptions asks for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Environment, Kind
from .names import CN, PRINTABLE, UTF8, C, L

# keyUsage bit numbers (RFC 5280 §4.2.1.3)
DIGITAL_SIGNATURE, NON_REPUDIATION, KEY_CERT_SIGN, CRL_SIGN = 0, 1, 5, 6

# extension OIDs
KEY_USAGE = "2.5.29.15"
SUBJECT_ALT_NAME = "2.5.29.17"
ISSUER_ALT_NAME = "2.5.29.18"
BASIC_CONSTRAINTS = "2.5.29.19"
CRL_DISTRIBUTION_POINTS = "2.5.29.31"
CERTIFICATE_POLICIES = "2.5.29.32"
AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"
SUBJECT_KEY_IDENTIFIER = "2.5.29.14"
AUTHORITY_INFO_ACCESS = "1.3.6.1.5.5.7.1.1"


@dataclass(frozen=True)
class Ext:
    """One extension slot: which extension, whether critical, and how its value is made.

    ``source`` names the renderer in :mod:`openjpki.pki.issue` (``"key_usage"``,
    ``"root_alt_name"``, ``"ca_true"``, ``"root_crldp"``, ``"ski"``, ``"policies"``,
    ``"sign_facts"``, ``"issuer_alt_name"``, ``"ee_crldp"``, ``"ocsp_aia"``, ``"aki"``).
    An optional slot is left out when its renderer has nothing to say.
    """

    oid: str
    critical: bool
    source: str
    optional: bool = False


@dataclass(frozen=True)
class RootProfile:
    """A self-signed JPKI root as the 2023 roots are: extension order and criticality."""

    key_usage: frozenset[int]
    validity_years: int
    extensions: tuple[Ext, ...]


@dataclass(frozen=True)
class EndEntityProfile:
    kind: Kind
    # (attribute OID, string type, field): field is an issue_certificate argument name,
    # or "=value" for a constant.
    subject: tuple[tuple[str, str, str], ...]
    key_usage: frozenset[int]
    policies: dict[Environment, str]
    crl_scope: str  # "municipality" (SIGN, partitioned) or "authority" (AUTH)
    extensions: tuple[Ext, ...]


ROOT = RootProfile(
    key_usage=frozenset({KEY_CERT_SIGN, CRL_SIGN}),
    validity_years=10,
    extensions=(
        Ext(KEY_USAGE, True, "key_usage"),
        Ext(SUBJECT_ALT_NAME, False, "root_alt_name"),
        Ext(BASIC_CONSTRAINTS, True, "ca_true"),
        Ext(CRL_DISTRIBUTION_POINTS, False, "root_crldp"),
        Ext(SUBJECT_KEY_IDENTIFIER, False, "ski"),
    ),
)

_EE_EXTENSIONS_HEAD = (Ext(KEY_USAGE, True, "key_usage"), Ext(CERTIFICATE_POLICIES, False, "policies"))
_EE_EXTENSIONS_TAIL = (
    Ext(ISSUER_ALT_NAME, False, "issuer_alt_name"),
    Ext(CRL_DISTRIBUTION_POINTS, False, "ee_crldp"),
    Ext(AUTHORITY_INFO_ACCESS, False, "ocsp_aia", optional=True),
    Ext(AUTHORITY_KEY_IDENTIFIER, False, "aki"),
    Ext(SUBJECT_KEY_IDENTIFIER, False, "ski"),
)

SIGN = EndEntityProfile(
    kind=Kind.SIGN,
    subject=((C, PRINTABLE, "=JP"), (L, UTF8, "prefecture"), (L, UTF8, "municipality"), (CN, UTF8, "subject_id")),
    key_usage=frozenset({DIGITAL_SIGNATURE, NON_REPUDIATION}),
    policies={"production": "1.2.392.200149.8.5.1.1.20", "test": "1.2.392.200149.8.5.1.0.20"},
    crl_scope="municipality",
    extensions=_EE_EXTENSIONS_HEAD + (Ext(SUBJECT_ALT_NAME, False, "sign_facts"),) + _EE_EXTENSIONS_TAIL,
)

AUTH = EndEntityProfile(
    kind=Kind.AUTH,
    subject=((C, PRINTABLE, "=JP"), (CN, UTF8, "subject_id")),
    key_usage=frozenset({DIGITAL_SIGNATURE}),
    policies={"production": "1.2.392.200149.8.5.1.3.30", "test": "1.2.392.200149.8.5.1.2.30"},
    crl_scope="authority",
    extensions=_EE_EXTENSIONS_HEAD + _EE_EXTENSIONS_TAIL,
)

END_ENTITY = {Kind.SIGN: SIGN, Kind.AUTH: AUTH}
