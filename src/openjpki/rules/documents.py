"""What is presented at the counter: procedures, applicant types, photo IDs, proofs of
authority, the inquiry form, and the items a refusal can say are missing (R5.1, R5.3–R5.7).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from openjpki.rules.decision import Allowed, LabelledEnum, Refused


class Procedure(LabelledEnum):
    """R5.1: the counter procedures."""

    NEW_ISSUANCE = ("new_issuance", "新規発行", "new issuance")
    RENEWAL = ("renewal", "更新", "renewal")
    REISSUE_AFTER_CHANGE = ("reissue_after_change", "記載事項変更に伴う再発行",
                            "re-issue after a change of facts")
    PIN_CHANGE = ("pin_change", "暗証番号の変更", "PIN change")
    PIN_RESET = ("pin_reset", "暗証番号の初期化（再設定）", "PIN reset")
    REVOCATION = ("revocation", "失効", "revocation")
    HOLD = ("hold", "一時保留", "hold")

    @property
    def issues(self) -> bool:
        """Does this procedure issue a certificate?"""
        return self in (Procedure.NEW_ISSUANCE, Procedure.RENEWAL,
                        Procedure.REISSUE_AFTER_CHANGE)

    @property
    def uses_card(self) -> bool:
        """**Decision**: revocation and hold need neither the card nor an up-to-date card
        face — a holder whose card is lost must be able to stop its certificates; every
        other procedure works on the card."""
        return self not in (Procedure.REVOCATION, Procedure.HOLD)


class ApplicantType(LabelledEnum):
    """R5.3: who applies."""

    HOLDER = ("holder", "本人", "the holder")
    LEGAL_REPRESENTATIVE = ("legal_representative", "法定代理人", "legal representative")
    VOLUNTARY_PROXY = ("voluntary_proxy", "任意代理人", "voluntary proxy")


class PhotoId(LabelledEnum):
    """R5.7: the accepted photo IDs (one suffices), as listed by 001 and 003."""

    MY_NUMBER_CARD = ("my_number_card", "マイナンバーカード", "My Number Card")
    JUKI_CARD = ("juki_card", "住民基本台帳カード（写真付き）",
                 "Basic Resident Register card (with photo)")
    DRIVERS_LICENCE = ("drivers_licence", "運転免許証", "driver's licence")
    DRIVING_HISTORY_CERTIFICATE = ("driving_history_certificate",
                                   "運転経歴証明書（平成24年4月1日以降発行）",
                                   "driving history certificate (issued from 2012-04-01)")
    PASSPORT = ("passport", "旅券（パスポート）", "passport")
    DISABILITY_CERTIFICATE = ("disability_certificate", "身体障害者手帳（写真付き）",
                              "physical disability certificate (with photo)")
    RESIDENCE_CARD = ("residence_card", "在留カード", "residence card")
    SPECIAL_PERMANENT_RESIDENT_CERTIFICATE = (
        "special_permanent_resident_certificate", "特別永住者証明書",
        "special permanent resident certificate")
    ALIEN_REGISTRATION_CERTIFICATE = ("alien_registration_certificate",
                                      "外国人登録証明書（写真付き）",
                                      "alien registration certificate (with photo)")
    TEMPORARY_REFUGE_PERMIT = ("temporary_refuge_permit", "一時庇護許可書",
                               "temporary refuge permit")
    PROVISIONAL_STAY_PERMIT = ("provisional_stay_permit", "仮滞在許可書",
                               "provisional stay permit")
    MARINE_OFFICER_LICENCE = ("marine_officer_licence", "海技免状", "marine officer licence")
    ELECTRICIAN_LICENCE = ("electrician_licence", "電気工事士免状", "electrician licence")
    RADIO_OPERATOR_LICENCE = ("radio_operator_licence", "無線従事者免許証",
                              "radio operator licence")
    TRAIN_DRIVER_LICENCE = ("train_driver_licence", "動力車操縦者運転免許証",
                            "train driver licence")
    FLIGHT_DISPATCHER_CERTIFICATE = ("flight_dispatcher_certificate",
                                     "運航管理者技能検定合格証明書",
                                     "flight dispatcher certificate")
    FIREARMS_PERMIT = ("firearms_permit", "猟銃・空気銃所持許可証",
                       "hunting gun and air gun permit")
    SPECIAL_ELECTRICAL_WORK_CERTIFICATE = ("special_electrical_work_certificate",
                                           "特種電気工事資格者認定証",
                                           "special electrical work certificate")
    AUTHORISED_ELECTRICAL_WORKER_CERTIFICATE = ("authorised_electrical_worker_certificate",
                                                "認定電気工事従事者認定証",
                                                "authorised electrical worker certificate")
    AIRWORTHINESS_INSPECTOR_CERTIFICATE = ("airworthiness_inspector_certificate",
                                           "耐空検査員の証", "airworthiness inspector card")
    AVIATION_LICENCE = ("aviation_licence", "航空従事者技能証明書", "aviation licence")
    REAL_ESTATE_BROKER_CERTIFICATE = ("real_estate_broker_certificate", "宅地建物取引士証",
                                      "real estate broker certificate")
    SEAFARER_HANDBOOK = ("seafarer_handbook", "船員手帳", "seafarer's handbook")
    WAR_INVALID_HANDBOOK = ("war_invalid_handbook", "戦傷病者手帳", "war invalid handbook")
    DRIVING_INSTRUCTOR_CERTIFICATE = ("driving_instructor_certificate", "教習資格認定証",
                                      "driving instructor certificate")
    SMALL_BOAT_LICENCE = ("small_boat_licence", "小型船舶操縦免許証", "small boat licence")
    SECURITY_GUARD_CERTIFICATE = ("security_guard_certificate", "検定合格証（警備員）",
                                  "security guard qualification certificate")
    GOVERNMENT_STAFF_ID = ("government_staff_id", "官公庁発行の顔写真付職員証",
                           "government staff ID with photo")


DRIVING_HISTORY_ACCEPTED_FROM = date(2012, 4, 1)
"""R5.7: 運転経歴証明書 counts only when issued from this day on."""


@dataclass(frozen=True)
class PresentedId:
    """A document shown as photo ID (R5.7). ``kind`` is a :class:`PhotoId`, or the name of
    a document not on the list (e.g. ``"健康保険証"``), which is refused."""

    kind: "PhotoId | str"
    valid_until: date | None = None
    """The document's own last valid day; ``None`` when it has none."""
    issued_on: date | None = None
    original: bool = True
    """Originals only; copies are refused (they are copied and kept by the counter)."""
    shows_current_name_address: bool = True
    """Name and address as on the resident register today."""
    has_photo: bool = True


def photo_id_problem(doc: PresentedId, on: date) -> tuple[str, str] | None:
    """R5.7: why ``doc`` is not an acceptable photo ID on ``on`` (Japanese, English), or
    ``None`` when it is acceptable."""
    kind = doc.kind
    if not isinstance(kind, PhotoId):
        try:
            kind = PhotoId(kind)
        except ValueError:
            return (f"「{doc.kind}」は本人確認書類として受け付けられません。",
                    f"{doc.kind!s} is not an accepted photo ID.")
    if not doc.original:
        return (f"{kind.ja}は原本をお持ちください（写しは不可）。",
                f"The {kind.en} must be the original, not a copy.")
    if not doc.has_photo:
        return (f"顔写真のない{kind.ja}は受け付けられません。",
                f"A {kind.en} without a photo is not accepted.")
    if doc.valid_until is not None and doc.valid_until < on:
        return (f"{kind.ja}の有効期限が切れています。", f"The {kind.en} has expired.")
    if not doc.shows_current_name_address:
        return (f"{kind.ja}の氏名・住所が住民票の記載と一致していません。",
                f"The {kind.en} does not show the current name and address on the register.")
    if kind is PhotoId.DRIVING_HISTORY_CERTIFICATE and (
            doc.issued_on is None or doc.issued_on < DRIVING_HISTORY_ACCEPTED_FROM):
        return ("運転経歴証明書は平成24年4月1日以降に発行されたものに限ります。",
                "A driving history certificate counts only if issued from 2012-04-01.")
    return None


class AuthorityProof(LabelledEnum):
    """R5.3: documents proving a legal representative's authority."""

    FAMILY_REGISTER_CERTIFICATE = ("family_register_certificate", "戸籍全部事項証明書",
                                   "family register certificate")
    GUARDIANSHIP_REGISTRY_CERTIFICATE = ("guardianship_registry_certificate",
                                         "成年後見登記事項証明書",
                                         "guardianship registry certificate")


@dataclass(frozen=True)
class InquiryForm:
    """照会書兼回答書兼委任状 (R5.4, R5.5): the inquiry, answer and letter of attorney the
    holder fills in, with the PINs written and hidden."""

    complete: bool = True
    """Every answer and attorney field filled in."""
    sealed: bool = True
    """PINs hidden: in a sealed envelope or under a masking sticker."""
    pins_match: bool = True
    """The PINs written on it match the card (checked at the counter)."""
    from_expiry_notice: bool = False
    """The form enclosed in J-LIS's expiry notice (R5.5 a), not one mailed after visit 1."""


def inquiry_reference_decision(live: bool, for_this_holder: bool = True) -> Allowed | Refused:
    """R5.4: a form brought back on the second visit counts only under a reference that is
    still live (a new inquiry, after PINs that did not match, voids the old one) and was
    mailed for this holder."""
    if not (live and for_this_holder):
        return Refused("R5.4", "この照会書は無効です（再照会により無効になったか、照会番号が違います）。",
                       "This inquiry form is not valid (voided by a new inquiry, or an unknown "
                       "reference).")
    return Allowed("R5.4", "照会書の照会番号を確認しました。",
                   "The inquiry form's reference is live and the holder's.")


def notice_reference_decision(sent: bool, for_this_holder: bool = True) -> Allowed | Refused:
    """R5.5 a: the one-visit renewal by a proxy rests on the form enclosed with the expiry
    notice, so the notice must have been sent to this holder and not used yet: the counter
    asks for the notice number printed on it (001: a proxy without the お知らせ asks the
    office; the two-visit inquiry of R5.4 is the way then)."""
    if not (sent and for_this_holder):
        return Refused("R5.5", "有効期限通知書の通知番号を確認できません（この方に送付された"
                       "未使用の通知書ではありません）。お知らせをお持ちでない場合は、2回の来庁"
                       "による手続き（照会書の郵送）になります。",
                       "The expiry notice's number cannot be confirmed (no unused notice was "
                       "sent to this holder). Without it the two-visit inquiry applies.")
    return Allowed("R5.5", "有効期限通知書の通知番号を確認しました。",
                   "The expiry notice's number is this holder's.")


class Requirement(LabelledEnum):
    """Items a refusal or a second visit can list as still needed."""

    HOLDER_CARD = ("holder_card", "本人のマイナンバーカード", "the holder's My Number Card")
    VALID_CARD = ("valid_card", "有効なマイナンバーカード", "a valid My Number Card")
    CHANGE_OF_PARTICULARS = ("change_of_particulars", "カードの記載事項変更",
                             "updating the card face (change of particulars)")
    HOLDER_PHOTO_ID = ("holder_photo_id", "本人の本人確認書類（顔写真付き）",
                       "the holder's photo ID")
    APPLICANT_PHOTO_ID = ("applicant_photo_id", "代理人の本人確認書類（顔写真付き）",
                          "the representative's photo ID")
    FAMILY_REGISTER_CERTIFICATE = ("family_register_certificate", "戸籍全部事項証明書",
                                   "family register certificate")
    GUARDIANSHIP_REGISTRY_CERTIFICATE = ("guardianship_registry_certificate",
                                         "成年後見登記事項証明書",
                                         "guardianship registry certificate")
    INQUIRY_FORM = ("inquiry_form", "照会書兼回答書兼委任状（封かん済み）",
                    "the sealed inquiry, answer and attorney form")
    LETTER_OF_ATTORNEY = ("letter_of_attorney", "委任状", "letter of attorney")
    HOLDER_IN_PERSON = ("holder_in_person", "本人の来庁", "the holder in person")
    LEGAL_REPRESENTATIVE = ("legal_representative", "法定代理人（同行または申請）",
                            "the legal representative (applying or accompanying)")
