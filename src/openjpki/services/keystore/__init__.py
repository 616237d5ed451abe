"""The authorities' key stores: encrypted files (default) or a PKCS#11 token, and the key
ceremony that makes a root generation in a token."""

from openjpki.services.keystore.stores import (
    PIN_ENV, PIN_FILE, FileKeys, HomeKeys, KeyStoreKind, TokenKeys, is_token_ref,
    parse_token_ref, token_pin, token_ref,
)

__all__ = ["PIN_ENV", "PIN_FILE", "FileKeys", "HomeKeys", "KeyStoreKind", "TokenKeys",
           "is_token_ref", "parse_token_ref", "token_pin", "token_ref"]
