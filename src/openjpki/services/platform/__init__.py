"""The platform API (プラットフォーム事業者): what an identity provider built for real JPKI
calls to register a person with the SIGN certificate, log them in with the AUTH certificate
and replace the SIGN certificate after a move — ``POST /verify/registration``,
``/verify/login``, ``/verify/replacement`` and ``GET /key/jwks.json`` (web.platform).

Modules: ``answers`` (the one answer shape, the statuses per call), ``requests`` (the bodies),
``certificate`` (JWE or PEM), ``keys`` (the platform's encryption keys and their rotation),
``providers`` (service providers as records), ``replay`` (the nonce window), ``registry``
(registrations per provider and the links of their certificates), ``revocation`` (the
sandbox's responder faults as an unavailable source), ``service`` (the calls), ``home`` (the
service of an OpenJPKI home).
"""

from openjpki.services.platform.answers import Call, Identity, PlatformError, RequestInfo
from openjpki.services.platform.certificate import encrypt_certificate, read_certificate
from openjpki.services.platform.home import open_platform, platform_verifier
from openjpki.services.platform.keys import KeyStore, PlatformKeyError, describe, ensure_key, rotate
from openjpki.services.platform.providers import ProviderError, add_provider, list_providers, set_enabled
from openjpki.services.platform.service import PlatformAnswer, PlatformService

__all__ = [
    "Call", "Identity", "KeyStore", "PlatformAnswer", "PlatformError", "PlatformKeyError", "PlatformService",
    "ProviderError", "RequestInfo", "add_provider", "describe", "encrypt_certificate", "ensure_key",
    "list_providers", "open_platform", "platform_verifier", "read_certificate", "rotate", "set_enabled",
]
