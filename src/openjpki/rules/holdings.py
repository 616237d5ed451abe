"""What a counter procedure needs of the certificates the card already holds (R3.3, R3.7,
R4.3, R4.5).

The counter looks up the current certificate of each kind on the holder's card — its status
as the authorities record it, its RFC 5280 reason, its last valid day — and passes them here
as :class:`HeldCertificate` values (``held``; ``None`` when the holder has no active card).
These functions decide before any work is done:

- :func:`new_issuance_decision` — not over a live certificate of the same kind (R3.7); what a
  new issuance issues when nothing is named is :func:`new_issuance_kinds`;
- :func:`renewal_on_card_decision` — only a good certificate, inside its window (R3.3,
  R3.1–R3.2 via :func:`~openjpki.rules.renewal.renewal_decision`);
- :func:`reissue_after_change_decision` — only a SIGN revoked by a change of facts (R4.5);
- :func:`holder_request_decision` — revocation or hold of certificates on the card by a
  permitted status change (R4.3 via :func:`~openjpki.rules.revocation.status_transition`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Iterable

from openjpki.rules.decision import Allowed, Refused
from openjpki.rules.documents import Procedure
from openjpki.rules.kinds import CertKind
from openjpki.rules.renewal import renewal_decision
from openjpki.rules.revocation import (
    CertStatus, HolderRequest, Reason, request_reason, status_transition,
)

BOTH = (CertKind.SIGN, CertKind.AUTH)


@dataclass(frozen=True)
class HeldCertificate:
    """The current certificate of one kind on a card, as plain values."""

    kind: CertKind
    status: CertStatus
    expiry: date
    """Its last valid day (R2.1)."""
    reason: str | None = None
    """The RFC 5280 reason it was revoked or held with (a ``cryptography`` ReasonFlags
    value such as ``"affiliationChanged"``), ``None`` while good."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", CertKind.parse(self.kind))
        object.__setattr__(self, "status", CertStatus(self.status))
        if isinstance(self.reason, Reason):
            object.__setattr__(self, "reason", self.reason.value)

    def live_on(self, day: date) -> bool:
        """Good and not expired on ``day``."""
        return self.status is CertStatus.GOOD and day <= self.expiry


def _by_kind(held: Iterable[HeldCertificate] | None) -> dict[CertKind, HeldCertificate]:
    return {c.kind: c for c in (held or ())}


def _kinds(kinds: Iterable["CertKind | str"]) -> tuple[CertKind, ...]:
    return tuple(dict.fromkeys(CertKind.parse(k) for k in kinds))


def new_issuance_kinds(held: Iterable[HeldCertificate] | None, on: date
                       ) -> tuple[CertKind, ...]:
    """R3.7, R3.3: what a new issuance on an existing card issues when no kind is named —
    each kind without a live certificate (missing, expired, revoked or on hold), SIGN first."""
    by_kind = _by_kind(held)
    return tuple(k for k in BOTH if not (k in by_kind and by_kind[k].live_on(on)))


def new_issuance_decision(held: Iterable[HeldCertificate] | None, on: date,
                          kinds: Iterable["CertKind | str"] = ()) -> Allowed | Refused:
    """R3.7 (with R3.3): may a new certificate of each of ``kinds`` be issued on ``on``?

    One live certificate per kind per card: a kind whose certificate is good and unexpired
    is renewed, not issued again. An expired, revoked or held one does not stand in the way
    (R3.3: after expiry a new issuance is possible at any time). No ``kinds`` means the
    counter's default, :func:`new_issuance_kinds`: refused when the card lacks none."""
    by_kind, asked = _by_kind(held), _kinds(kinds)
    if not asked and not new_issuance_kinds(held, on):
        return Refused("R3.7", "このカードには両方の電子証明書が有効な状態で搭載されています。"
                       "期限が近い場合は更新してください。",
                       "Both certificates on this card are live; renew them instead (one live "
                       "certificate per kind per card).")
    for k in asked:
        c = by_kind.get(k)
        if c is not None and c.live_on(on):
            return Refused("R3.7", f"このカードの{k.ja}は有効です。期限が近い場合は更新してください。",
                           f"The {k.en} on this card is live; renew it instead (one live "
                           "certificate per kind per card).")
    return Allowed("R3.7", "このカードに有効な同じ種類の電子証明書はないため、新たに発行できます。",
                   "The card holds no live certificate of that kind; a new one can be "
                   "issued.")


def renewal_on_card_decision(held: Iterable[HeldCertificate] | None, on: date,
                             kinds: Iterable["CertKind | str"]) -> Allowed | Refused:
    """R3.3, R3.1, R3.2: may the certificates of ``kinds`` on the card be renewed on ``on``?

    Each must be there and good (a revoked or held one, or none, is replaced by a new
    issuance instead, R3.3), and inside its renewal window (:func:`renewal_decision`: not
    before it opens, R3.2, nor after expiry, R3.3). The first kind that fails decides."""
    by_kind = _by_kind(held)
    first: Allowed | None = None
    for k in _kinds(kinds):
        c = by_kind.get(k)
        if c is None or c.status is not CertStatus.GOOD:
            return Refused("R3.3", f"更新できる{k.ja}がありません。新規発行の手続きをしてください。",
                           f"There is no live {k.en} to renew; a new issuance is done instead.")
        window = renewal_decision(c.expiry, on)
        if isinstance(window, Refused):
            return window
        first = first or window
    if first is None:
        raise ValueError("a renewal names at least one certificate")
    return first


def reissue_after_change_decision(held: Iterable[HeldCertificate] | None
                                  ) -> Allowed | Refused:
    """R4.5 (with R4.1, R5.1): may the SIGN be re-issued as the re-issue after a change of
    facts? Only when the card's SIGN was revoked by that change (reason affiliationChanged,
    R4.1). A good SIGN has nothing to re-issue; a SIGN held, revoked for another reason, or
    never on the card is issued by a new issuance (R3.3, R5.11) instead."""
    sign = _by_kind(held).get(CertKind.SIGN)
    if sign is not None and sign.status is CertStatus.GOOD:
        return Refused("R4.5", "署名用電子証明書は失効していないため、再発行の対象ではありません。",
                       "The signature certificate was not revoked by a change of facts; there "
                       "is nothing to re-issue.")
    if (sign is None or sign.status is not CertStatus.REVOKED
            or sign.reason != Reason.AFFILIATION_CHANGED.value):
        return Refused("R4.5", "このカードの署名用電子証明書は記載事項の変更により失効したものでは"
                       "ないため、再発行の対象ではありません。新規発行の手続きをしてください。",
                       "No signature certificate on this card was revoked by a change of facts, "
                       "so there is nothing to re-issue; a new issuance is done instead.")
    return Allowed("R4.5", "記載事項の変更により失効した署名用電子証明書を再発行できます。",
                   "The signature certificate revoked by the change of facts can be issued "
                   "again.")


def holder_request_decision(held: Iterable[HeldCertificate] | None,
                            procedure: "Procedure | str", kinds: Iterable["CertKind | str"],
                            request: "HolderRequest | str" = HolderRequest.VOLUNTARY
                            ) -> Allowed | Refused:
    """R4.3: may the certificates of ``kinds`` be revoked (``procedure`` revocation, with the
    final reason of the holder's ``request``) or put on hold (``procedure`` hold)?

    There must be an active card (``held`` not ``None``) holding a certificate of each kind,
    and each status change must be one :func:`status_transition` allows (a hold is never
    released nor held twice, a revocation is final)."""
    procedure = Procedure(procedure)
    if procedure not in (Procedure.REVOCATION, Procedure.HOLD):
        raise ValueError(f"not a revocation or hold: {procedure.value}")
    if held is None:
        return Refused("R4.3", "失効・一時保留できる電子証明書がありません（有効なカードが"
                       "ありません）。",
                       "There is no certificate to revoke or hold (no active card).")
    by_kind = _by_kind(held)
    if procedure is Procedure.HOLD:
        target, reason = CertStatus.HOLD, None
    else:
        target, reason = CertStatus.REVOKED, request_reason(request)
    decision: Allowed | Refused | None = None
    for k in _kinds(kinds):
        c = by_kind.get(k)
        if c is None:
            return Refused("R4.3", f"このカードに{k.ja}はありません。",
                           f"There is no {k.en} on this card.")
        decision = status_transition(c.status, target, reason)
        if isinstance(decision, Refused):
            return decision
    if decision is None:
        raise ValueError("a revocation or hold names at least one certificate")
    return decision
