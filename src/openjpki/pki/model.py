"""Plain values shared by the authorities: which certificate kind, and profile options."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Literal

Environment = Literal["test", "production"]


class Kind(enum.Enum):
    """The two certificates of the My Number Card, each with its own authority."""

    SIGN = "sign"  # 署名用電子証明書
    AUTH = "auth"  # 利用者証明用電子証明書


@dataclass(frozen=True)
class ProfileOptions:
    """How the profiles are rendered (PROFILES.md "For a sandbox that standard tools must accept").

    environment:
        ``"test"`` (default): the authorities' names say ``JPKI-TEST`` and end-entity
        certificates carry the test policy OIDs, so a sandbox certificate can never be taken
        for a real one.  ``"production"``: the real JPKI names and policy OIDs.
    crl_url_base:
        When set (e.g. ``"http://127.0.0.1:8000"``), end-entity certificates get an HTTP URI
        next to the faithful directoryName in their CRL distribution point:
        ``{base}/crl/auth.crl`` for AUTH, ``{base}/crl/sign/{partition}.crl`` for SIGN.
    ocsp_url:
        When set, end-entity certificates get an authorityInfoAccess id-ad-ocsp URI.
    crl_path:
        The path of the CRLs under ``crl_url_base`` (default ``/crl``). Each root generation
        signs its own CRLs, so the certificates of a later generation name their own place
        (``/crl/g2`` for the second): a relying party fetches a CRL signed by the key that
        signed the certificate.
    """

    environment: Environment = "test"
    crl_url_base: str | None = None
    ocsp_url: str | None = None
    crl_path: str = "/crl"

    def __post_init__(self) -> None:
        if self.environment not in ("test", "production"):
            raise ValueError(f"environment must be 'test' or 'production', not {self.environment!r}")
        for url in (self.crl_url_base, self.ocsp_url):
            if url is not None and not (url.startswith("http://") or url.startswith("https://")):
                raise ValueError(f"URL must be http(s): {url!r}")
            if url is not None and not url.isascii():
                raise ValueError(f"URL must be ASCII: {url!r}")
        if not (self.crl_path.startswith("/") and not self.crl_path.endswith("/")
                and self.crl_path.isascii() and " " not in self.crl_path):
            raise ValueError(f"crl_path must be an ASCII path like /crl: {self.crl_path!r}")
