"""The virtual My Number Card (JPKI application), its store, the issuing terminal, the
vpcd bridge to PC/SC, and the holder-side client (docs/CARD.md).

Works on bytes, keys and certificates only: it imports neither ``openjpki.rules``, ``pki``
nor ``store`` (ARCHITECTURE.md).
"""

from openjpki.card.card import VirtualCard
from openjpki.card.client import (CardError, JpkiClient, NotJpkiCard, PinBlocked,
                                  PinFormRefused, WrongPin, sign_file_data)
from openjpki.card.pcsc import NoCard, NoReader, PcscError, PcscTransport, list_readers
from openjpki.card.pins import MAX_TRIES, KeyKind, pin_form_ok
from openjpki.card.store import CardExists, CardInUse, CardStore, CardStoreError, UnknownCard
from openjpki.card.terminal import IssuingError, IssuingTerminal
from openjpki.card.vpcd import VpcdBridge

__all__ = [
    "CardError", "CardExists", "CardInUse", "CardStore", "CardStoreError", "IssuingError",
    "IssuingTerminal", "JpkiClient", "KeyKind", "MAX_TRIES", "NoCard", "NoReader",
    "NotJpkiCard", "PcscError", "PcscTransport", "PinBlocked", "PinFormRefused",
    "UnknownCard", "VirtualCard", "VpcdBridge", "WrongPin", "list_readers", "pin_form_ok",
    "sign_file_data",
]
