"""What the counter is asked: plain dataclasses, the same for the CLI, the HTTP API and a
deferred-work queue (R5.9). No PIN is ever part of a request: PINs travel apart
(:class:`PinEntry`), are used once, and are never stored or logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from openjpki.rules.documents import ApplicantType, AuthorityProof, PresentedId, Procedure
from openjpki.rules.kinds import CertKind


@dataclass(frozen=True)
class InquiryAnswer:
    """The 照会書兼回答書兼委任状 a voluntary proxy brings back (R5.4, R5.5 a): the one-time
    reference printed on it, whether it is filled in completely and the PINs are sealed. The
    PINs written on it are handed to the procedure as a :class:`PinEntry`."""

    reference: str | None = None
    complete: bool = True
    sealed: bool = True
    from_expiry_notice: bool = False
    """The form J-LIS enclosed with the expiry notice (R5.5 a); it has no reference of ours."""


@dataclass(frozen=True)
class ApplicantInput:
    """Who is at the counter and what they brought (R5.3–R5.7)."""

    type: ApplicantType | str = ApplicantType.HOLDER
    ids: tuple[PresentedId, ...] = ()
    authority_proofs: tuple[AuthorityProof | str, ...] = ()
    representative_id: int | None = None
    """The representative or proxy, when they are on this register: the service looks up
    whether a parent heads the holder's household (R5.3) or shares it (R5.5 b)."""
    holder_present: bool = False
    letter_of_attorney: bool = False
    inquiry: InquiryAnswer | None = None
    card_presented: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", ApplicantType(self.type))
        object.__setattr__(self, "ids", tuple(self.ids))
        object.__setattr__(self, "authority_proofs",
                           tuple(AuthorityProof(p) for p in self.authority_proofs))


HOLDER = ApplicantInput()


@dataclass(frozen=True)
class CounterRequest:
    """One application at the counter (R5.1).

    ``kinds``: the certificates concerned (empty: the procedure's default — both for a new
    card less ``declined`` and R1.5, SIGN for a re-issue, both otherwise). ``card_id``: the
    card (empty: the holder's active card; a new card for :attr:`new_card`). ``reason``: for
    a revocation, a :class:`~openjpki.rules.revocation.HolderRequest` value (``voluntary``,
    ``lost_card``, ``key_compromise``, ``destroyed_before_use``)."""

    procedure: Procedure | str
    resident_id: int
    kinds: tuple[CertKind | str, ...] = ()
    card_id: int | None = None
    new_card: bool = False
    declined: tuple[CertKind | str, ...] = ()
    applicant: ApplicantInput = field(default_factory=ApplicantInput)
    office: str | None = None
    sign_exception: bool = False
    reason: str | None = None
    paid_card_reissue: bool = False
    """The new card is a paid re-issue (lost card, paid replacement): R3.6's fee."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "procedure", Procedure(self.procedure))
        object.__setattr__(self, "kinds", _kinds(self.kinds))
        object.__setattr__(self, "declined", _kinds(self.declined))
        if self.new_card and self.procedure is not Procedure.NEW_ISSUANCE:
            raise ValueError("a new card goes with a new issuance")


def _kinds(kinds: Iterable[CertKind | str] | str) -> tuple[CertKind, ...]:
    if isinstance(kinds, (str, CertKind)):
        kinds = (kinds,)
    return tuple(sorted({CertKind.parse(k) for k in kinds}, key=lambda k: k.value != "sign"))


@dataclass(frozen=True)
class PinEntry:
    """PINs entered at the counter (or written on the inquiry form). Used once, never stored.

    ``card``: the resident-registry PIN 住民基本台帳用暗証番号 (R1.6), checked for issuance,
    renewal and reset (set on a new card). ``sign``/``auth``: the PIN to set (issuance,
    renewal, reset) or the new PIN (change). ``current_sign``/``current_auth``: the PIN in
    force, for a change (R1.7)."""

    card: str | None = None
    sign: str | None = None
    auth: str | None = None
    current_sign: str | None = None
    current_auth: str | None = None

    def __repr__(self) -> str:  # never the PINs
        given = [k for k in ("card", "sign", "auth", "current_sign", "current_auth")
                 if getattr(self, k) is not None]
        return f"PinEntry(given={given})"

    def new(self, kind: CertKind) -> str | None:
        return self.sign if kind is CertKind.SIGN else self.auth

    def current(self, kind: CertKind) -> str | None:
        return self.current_sign if kind is CertKind.SIGN else self.current_auth


NO_PINS = PinEntry()
