"""The JSON API's request and response bodies (pydantic), so that ``/openapi.json`` says
exactly what each endpoint takes and answers.

Requests forbid unknown members, take no coerced values (strict: ``"1"`` or ``true`` is not
an id), and bound every string and number (what the store can hold: 32-bit ids, no control
characters; names and addresses as :mod:`openjpki.rules.text` allows), so bad input is
answered 422 naming the field before any service runs. Rules are not checked here: a PIN of the wrong form is a refusal with its rule
(R1.3), decided by the rules package like at the counter.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal, Optional

from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints,
    ValidationInfo,
)

from openjpki.rules import check_register_text

MAX_ID = 2 ** 31 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"


def _register_text(value: str, info: ValidationInfo) -> str:
    """R1.2: what a register entry may hold (:func:`openjpki.rules.check_register_text`)."""
    return check_register_text(info.field_name or "text", value)


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number or a name is meant here, not true/false")
    return value


def _date_text(value: object) -> object:
    if not isinstance(value, (str, date)) or isinstance(value, datetime):
        raise ValueError("a date is written as text, YYYY-MM-DD")
    return value


def Text(max_length: int, min_length: int = 1):  # noqa: N802 — a type factory
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length,
                                            pattern=_NO_CONTROL)]


def RegisterText(max_length: int, min_length: int = 1):  # noqa: N802 — a type factory
    """A name, address, 旧氏 or 通称: :func:`Text` and the register's own rule (R1.2)."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length),
                     AfterValidator(_register_text)]


Pin = Annotated[str, StringConstraints(max_length=32, pattern=_NO_CONTROL)]
# Dates come as text in JSON: lax parsing of that text only (never a number of seconds).
Day = Annotated[date, BeforeValidator(_date_text),
                Field(strict=False, ge=date(1900, 1, 1), le=date(2199, 12, 31))]
Kind = Literal["sign", "auth"]
Sex = Annotated[Literal["male", "female", "unknown", 1, 2, 3], BeforeValidator(_not_bool)]
ApplicantTypeName = Literal["holder", "legal_representative", "voluntary_proxy"]
ProofName = Literal["family_register_certificate", "guardianship_registry_certificate"]
RevocationReason = Literal["voluntary", "lost_card", "key_compromise", "destroyed_before_use"]
ProcedureName = Literal["new_issuance", "renewal", "reissue_after_change", "pin_change",
                        "pin_reset", "revocation", "hold"]


class Strict(BaseModel):
    """Request bodies: no unknown members, and no coercion — an id is a JSON number, never
    ``true`` or ``"1"``; a flag is ``true``/``false``, never ``1``."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Open(BaseModel):
    """Response bodies: the members listed are always there; later versions may add more."""

    model_config = ConfigDict(extra="allow")


# --- requests -------------------------------------------------------------------------------

class ResidentCreate(Strict):
    name: RegisterText(200) = Field(description="Surname, U+3000, given name (氏名).",
                            examples=["山田　太郎"])
    address: RegisterText(200) = Field(examples=["埼玉県川口市青木二丁目1番1号"])
    birth_date: Day
    sex: Sex = Field(description="male/female/unknown or 1/2/3 as SIGN encodes it.")
    name_kana: Optional[RegisterText(200)] = None
    former_surname: Optional[RegisterText(100)] = Field(None, description="旧氏 (R1.2).")
    alias: Optional[RegisterText(200)] = Field(None, description="通称 of a foreign resident (R1.2).")
    household_id: Optional[Text(32)] = None
    relationship: Text(32) = Field("head", description="続柄 to the household head.")
    honseki_here: bool = False
    adult_ward: bool = Field(False, description="成年被後見人 (R1.5).")
    foreign_resident: bool = False
    stay_until: Optional[Day] = Field(None, description="End of the period of stay (R2.3).")
    postal_code: Optional[Text(8)] = Field(None, description="郵便番号 NNN-NNNN, printed on "
                                           "the letters mailed to the address.")


class PinsIn(Strict):
    """PINs typed at the counter (or written on the inquiry form). Used once; never stored
    in clear, logged or answered."""

    card: Optional[Pin] = Field(None, description="住民基本台帳用暗証番号, 4 digits (R1.6).")
    sign: Optional[Pin] = Field(None, description="SIGN PIN to set, 6-16 A-Z/0-9 (R1.3).")
    auth: Optional[Pin] = Field(None, description="AUTH PIN to set, 4 digits (R1.3).")


class PhotoIdIn(Strict):
    kind: Text(64) = Field(description="A PhotoId code (drivers_licence, passport, "
                           "my_number_card, residence_card …) or the name of another "
                           "document, which is refused (R5.7).", examples=["drivers_licence"])
    valid_until: Optional[Day] = None
    issued_on: Optional[Day] = None
    original: bool = True
    shows_current_name_address: bool = True
    has_photo: bool = True


class InquiryIn(Strict):
    """The 照会書兼回答書兼委任状 brought back by a voluntary proxy (R5.4, R5.5 a)."""

    reference: Optional[Text(32)] = Field(None, description="The one-time reference on it.")
    complete: bool = True
    sealed: bool = True
    from_expiry_notice: bool = False


class ApplicantIn(Strict):
    """Who is at the counter and what they brought (R5.3–R5.7)."""

    type: ApplicantTypeName = "holder"
    ids: list[PhotoIdIn] = Field(default_factory=list, max_length=8)
    authority_proofs: list[ProofName] = Field(default_factory=list, max_length=4)
    representative_id: Optional[Id] = None
    holder_present: bool = False
    letter_of_attorney: bool = False
    inquiry: Optional[InquiryIn] = None
    card_presented: bool = True


class _Procedure(Strict):
    resident_id: Id
    applicant: ApplicantIn = Field(default_factory=ApplicantIn)
    office: Optional[Text(64)] = Field(None, description="Office id of the calendar "
                                       "(default: the configured default office, R5.8).")


class IssuanceIn(_Procedure):
    """新規発行: a new card (R5.10), or a certificate on the holder's card (R3.3, R5.11)."""

    new_card: bool = True
    card_id: Optional[Id] = None
    kinds: list[Kind] = Field(default_factory=list, max_length=2)
    declined: list[Kind] = Field(default_factory=list, max_length=2)
    sign_exception: bool = Field(False, description="SIGN asked for as the R5.6 exception.")
    paid_card_reissue: bool = Field(
        False, description="The new card is a paid re-issue (a lost card, a paid "
        "replacement): the certificates cost the fee of R3.6 (200 yen by default), answered "
        "in details.fee. A card replacing one reported lost is paid without it.")
    pins: PinsIn = Field(default_factory=PinsIn)


class RenewalIn(_Procedure):
    """更新 (R3.1–R3.3)."""

    kinds: list[Kind] = Field(default_factory=list, max_length=2)
    pins: PinsIn = Field(default_factory=PinsIn)


class SignReissueIn(_Procedure):
    """SIGN again after a change of facts (R4.5)."""

    pins: PinsIn = Field(default_factory=PinsIn)


class PinChangeIn(_Procedure):
    """暗証番号の変更 (R1.7): the current PIN and the new one."""

    kind: Kind
    current_pin: Pin
    new_pin: Pin


class PinResetIn(_Procedure):
    """暗証番号の初期化 (R1.6, R6.5): the resident-registry PIN and the new PIN."""

    kind: Kind
    card_pin: Pin
    new_pin: Pin


class RevocationIn(_Procedure):
    """失効 on request (R4.3)."""

    kinds: list[Kind] = Field(default_factory=list, max_length=2)
    reason: RevocationReason = "voluntary"


class HoldIn(_Procedure):
    """一時保留 (R4.3)."""

    kinds: list[Kind] = Field(default_factory=list, max_length=2)


class ProxyVisit1In(_Procedure):
    """R5.4 visit 1: a voluntary proxy applies; the inquiry form is mailed to the holder."""

    procedure: Literal["new_issuance", "renewal", "reissue_after_change", "pin_reset"]
    kinds: list[Kind] = Field(default_factory=list, max_length=2)


class ProxyVisit2In(_Procedure):
    """R5.4 visit 2: the proxy brings the form back with the PINs written and sealed."""

    procedure: Literal["new_issuance", "renewal", "reissue_after_change", "pin_reset"]
    kinds: list[Kind] = Field(default_factory=list, max_length=2)
    reference: Text(32)
    complete: bool = True
    sealed: bool = True
    pins: PinsIn = Field(default_factory=PinsIn)


class AddressEventIn(Strict):
    address: RegisterText(200)
    postal_code: Optional[Text(8)] = Field(None, description="郵便番号 of the new address.")
    household_id: Optional[Text(32)] = None
    relationship: Optional[Text(32)] = None


class NameEventIn(Strict):
    name: Optional[RegisterText(200)] = None
    former_surname: Optional[RegisterText(100, 0)] = Field(None, description="'' removes it.")
    alias: Optional[RegisterText(200, 0)] = Field(None, description="'' removes it.")


class StayExtensionIn(Strict):
    stay_until: Day = Field(..., description="The new last day of the period of stay (R2.3).")


class BirthDateEventIn(Strict):
    birth_date: Day


class SexEventIn(Strict):
    sex: Sex


class AvailabilityIn(Strict):
    available: bool
    reason: Optional[Text(200)] = None
