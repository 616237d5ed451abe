"""Who may do what at the counter, and what they must bring (R1.5, R1.6, R5.2–R5.11).

:func:`procedure_decision` takes one :class:`Application` (procedure, certificates, day,
holder facts, applicant and what they presented) and answers :class:`Allowed`,
:class:`Refused` (naming the rule and listing what is ``missing``) or :class:`SecondVisit`
(the voluntary-proxy inquiry of R5.4). Checks run in rule order, the first failing rule is
named; a refusal for missing documents lists everything missing at once.

Timing rules are separate and called alongside: renewal window (:func:`renewal_decision`,
R3.1–R3.3) and office hours (:func:`counter_open`, R5.8).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Iterable

from openjpki.rules.dates import age_on
from openjpki.rules.decision import Allowed, Refused, SecondVisit
from openjpki.rules.documents import (
    ApplicantType, AuthorityProof, InquiryForm, PresentedId, Procedure, Requirement,
    photo_id_problem,
)
from openjpki.rules.kinds import CertKind, PinKind

SIGN_MIN_AGE = 15
"""R1.5: SIGN is not issued, in principle, under this age (on the day of application, R5.11)."""
MAJORITY_AGE = 18
"""Age of majority (Civil Code since 2022-04-01): below it a parent is legal representative."""


@dataclass(frozen=True)
class Holder:
    """The facts about the card holder that the rules need, as of the application day."""

    birth: date
    on_register: bool = True
    """On this municipality's resident register (R5.2)."""
    card_valid: bool = True
    """Holds a card that has not been returned or voided (R5.2)."""
    card_expiry: date | None = None
    """The card's expiry, if known; a card past it is not valid (R5.2)."""
    card_face_up_to_date: bool = True
    """The card face (住所 etc.) matches the register (R5.2)."""
    adult_ward: bool = False
    """成年被後見人 (R1.5, R5.3)."""
    foreign_resident: bool = False
    stay_until: date | None = None
    """End of a foreign resident's period of stay (R2.3)."""
    honseki_here: bool = False
    """本籍 in this municipality: the family register proves a parent's authority (R5.3)."""


@dataclass(frozen=True)
class Applicant:
    """Who is at the counter and what they brought (R5.3–R5.7)."""

    type: ApplicantType = ApplicantType.HOLDER
    ids: tuple[PresentedId, ...] = ()
    """Photo IDs of the applicant (R5.7); the holder's card is
    :attr:`Application.card_presented`."""
    authority_proofs: frozenset[AuthorityProof] = frozenset()
    parent_heads_holder_household: bool = False
    """The representative is a parent heading the holder's household and the register shows
    the relationship: no family-register certificate needed (R5.3)."""
    holder_present: bool = False
    """A representative came together with the holder (R5.6, R1.5)."""
    same_household: bool = False
    """A voluntary proxy in the household of the holder's new address (R5.5 b)."""
    move_filed_on: date | None = None
    """The day the proxy filed the holder's 転入届/転居届 (R5.5 b)."""
    letter_of_attorney: bool = False
    """委任状 (R5.5 b)."""
    inquiry_form: InquiryForm | None = None
    """照会書兼回答書兼委任状 brought back by a voluntary proxy (R5.4, R5.5 a)."""


@dataclass(frozen=True)
class Application:
    """One request at the counter."""

    procedure: Procedure
    kinds: frozenset[CertKind]
    on: date
    holder: Holder
    applicant: Applicant = field(default_factory=Applicant)
    card_presented: bool = True
    """The holder's My Number Card is on the counter."""
    sign_exception: bool = False
    """SIGN asked for as an exception for a person under 15 or an adult ward (R5.6)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "procedure", Procedure(self.procedure))
        kinds = self.kinds
        if isinstance(kinds, (str, CertKind)):
            kinds = (kinds,)
        object.__setattr__(self, "kinds", frozenset(CertKind.parse(k) for k in kinds))
        if not self.kinds:
            raise ValueError("an application names at least one certificate")
        if self.on < self.holder.birth:
            raise ValueError("the application day is before the holder's birth")


def sign_eligible(birth: date, on: date, adult_ward: bool = False) -> Allowed | Refused:
    """R1.5, R5.11: may SIGN be issued, in principle, on ``on``? Not under 15 (age on that
    day, R5.11) nor to an adult ward; the exception path is R5.6."""
    if adult_ward:
        return Refused("R1.5", "成年被後見人の方には署名用電子証明書を原則として発行しません。",
                       "A signature certificate is not issued, in principle, to an adult ward.")
    if age_on(birth, on) < SIGN_MIN_AGE:
        return Refused("R1.5", "15歳未満の方には署名用電子証明書を原則として発行しません。",
                       "A signature certificate is not issued, in principle, to a person "
                       "under 15.")
    return Allowed("R5.11", "署名用電子証明書を発行できる年齢です。",
                   "Old enough for a signature certificate.")


def needs_legal_representative(holder: Holder, on: date) -> bool:
    """R1.5: for a person under 15 or an adult ward a legal representative applies."""
    return holder.adult_ward or age_on(holder.birth, on) < SIGN_MIN_AGE


def certificates_on_new_card(birth: date, on: date, declined: Iterable["CertKind | str"] = (),
                             adult_ward: bool = False) -> frozenset[CertKind]:
    """R5.10, R1.5: the certificates a new card handed over on ``on`` carries — both, less
    those declined on the card application, less SIGN under 15 or for an adult ward. A left
    out certificate can be issued later at the counter (:attr:`Procedure.NEW_ISSUANCE`)."""
    kinds = {CertKind.SIGN, CertKind.AUTH} - {CertKind.parse(k) for k in declined}
    if not sign_eligible(birth, on, adult_ward).allowed:
        kinds.discard(CertKind.SIGN)
    return frozenset(kinds)


def pins_needed(procedure: "Procedure | str", kinds: Iterable["CertKind | str"]
                ) -> tuple[PinKind, ...]:
    """R1.6, R1.7: the PINs entered at the counter: the card's resident-registry PIN for
    issuance, renewal and PIN reset (R1.6), plus the PIN of each certificate concerned (set
    on issuance and reset, current and new on a change). None for revocation or hold."""
    procedure = Procedure(procedure)
    certs = sorted({CertKind.parse(k) for k in kinds}, key=lambda k: k.value != "sign")
    pins = tuple(PinKind.parse(k) for k in certs)
    if procedure.issues or procedure is Procedure.PIN_RESET:
        return (PinKind.CARD, *pins)
    if procedure is Procedure.PIN_CHANGE:
        return pins
    return ()


def central_system_down() -> Allowed:
    """R5.9: when the central system is slow or down the counter may keep the card and the
    sealed PINs, finish later and send the card back by 本人限定郵便; nothing handed in may
    be lost while it waits (the services keep it in the store until done)."""
    return Allowed("R5.9",
                   "システムの状況により、カードと封かんした暗証番号をお預かりし、"
                   "手続き完了後に本人限定郵便でお送りします。",
                   "The counter keeps the card and the sealed PINs, finishes the work later "
                   "and sends the card back by restricted-delivery mail (本人限定郵便).")


def procedure_decision(app: Application) -> Allowed | Refused | SecondVisit:
    """R5.2–R5.7 with R1.5/R5.6: may this application be done today, and if not, why and
    what is missing? (Timing — R3.1–R3.3 renewal window, R5.8 hours — is decided apart.)"""
    h, a, on, proc = app.holder, app.applicant, app.on, app.procedure

    refused = _register_and_card(app)
    if refused:
        return refused
    if proc is Procedure.REISSUE_AFTER_CHANGE and CertKind.AUTH in app.kinds:
        return Refused("R4.2", "利用者証明用電子証明書は記載事項の変更では失効しないため、"
                       "再発行の対象は署名用電子証明書のみです。",
                       "Only SIGN is re-issued after a change of facts; AUTH was not revoked.")

    minor_rule = needs_legal_representative(h, on)
    if proc.issues and CertKind.SIGN in app.kinds:
        eligible = sign_eligible(h.birth, on, h.adult_ward)
        if not eligible.allowed:
            if not app.sign_exception:
                return Refused(eligible.rule, eligible.message_ja + "例外として申請する場合は、"
                               "本人と法定代理人がそろって来庁してください。",
                               eligible.message_en + " As an exception it may be asked for by "
                               "the holder in person together with the legal representative.")
            missing = []
            if a.type is not ApplicantType.LEGAL_REPRESENTATIVE:
                missing.append(Requirement.LEGAL_REPRESENTATIVE)
            if not (a.type is ApplicantType.HOLDER or a.holder_present):
                missing.append(Requirement.HOLDER_IN_PERSON)
            if missing:
                return Refused("R5.6", "署名用電子証明書を例外として申請するには、本人と法定代理人が"
                               "そろって来庁する必要があります。",
                               "SIGN as an exception needs the holder in person together "
                               "with the legal representative.", missing=missing)

    if minor_rule and a.type is not ApplicantType.LEGAL_REPRESENTATIVE:
        return Refused("R1.5", "15歳未満の方・成年被後見人の方の手続きは法定代理人が行います"
                       "（本人が来庁する場合も法定代理人の同行が必要です）。",
                       "For a person under 15 or an adult ward the legal representative "
                       "applies (or accompanies the holder).",
                       missing=(Requirement.LEGAL_REPRESENTATIVE,))

    if a.type is ApplicantType.HOLDER:
        return _holder(app)
    if a.type is ApplicantType.LEGAL_REPRESENTATIVE:
        return _legal_representative(app)
    return _voluntary_proxy(app)


def _register_and_card(app: Application) -> Refused | None:
    """R5.2 (and R5.3's "the holder's card")."""
    h, on = app.holder, app.on
    if not h.on_register or (h.stay_until is not None and h.stay_until < on):
        return Refused("R5.2", "この市区町村の住民基本台帳に記録されている方のみ申請できます。",
                       "Only a person on this municipality's resident register can apply.")
    if not app.procedure.uses_card:
        return None
    if not app.card_presented:
        return Refused("R5.3", "本人のマイナンバーカードをお持ちください。",
                       "The holder's My Number Card is needed.",
                       missing=(Requirement.HOLDER_CARD,))
    if not h.card_valid or (h.card_expiry is not None and h.card_expiry < on):
        return Refused("R5.2", "有効なマイナンバーカードが必要です。",
                       "A valid My Number Card is needed.", missing=(Requirement.VALID_CARD,))
    if not h.card_face_up_to_date:
        return Refused("R5.2", "カードの券面記載事項が最新ではありません。先に記載事項変更の"
                       "手続きをしてください。",
                       "The card face is out of date; the change of particulars (記載事項変更) "
                       "must be done first.", missing=(Requirement.CHANGE_OF_PARTICULARS,))
    return None


def _id_check(ids: tuple[PresentedId, ...], on: date) -> tuple[str, str] | None | bool:
    """``True`` when one acceptable ID is among ``ids``; ``None`` when none was shown; else
    the (ja, en) reason the (first) shown ID is refused (R5.7)."""
    if not ids:
        return None
    problems = [photo_id_problem(d, on) for d in ids]
    if any(p is None for p in problems):
        return True
    return problems[0]


def _documents_refusal(rule: str, id_state: "tuple[str, str] | None | bool",
                       missing: list[Requirement], what_ja: str, what_en: str) -> Refused | None:
    if id_state is not True:
        missing.insert(0, Requirement.APPLICANT_PHOTO_ID)
    if not missing:
        return None
    listed_ja = "、".join(m.ja for m in missing)
    listed_en = "; ".join(m.en for m in missing)
    if isinstance(id_state, tuple):
        return Refused("R5.7", f"{id_state[0]}必要なもの：{listed_ja}",
                       f"{id_state[1]} Needed: {listed_en}.", missing=missing)
    return Refused(rule, f"{what_ja}必要なもの：{listed_ja}",
                   f"{what_en} Needed: {listed_en}.", missing=missing)


def _holder(app: Application) -> Allowed | Refused:
    if not app.card_presented:  # revocation / hold without the card: a photo ID instead
        id_state = _id_check(app.applicant.ids, app.on)
        if id_state is not True:
            reason = id_state if isinstance(id_state, tuple) else (
                "カードがない場合は本人確認書類が必要です。",
                "Without the card a photo ID is needed.")
            return Refused("R5.7", reason[0], reason[1], missing=(Requirement.HOLDER_PHOTO_ID,))
    return Allowed("R5.3", f"本人による{app.procedure.ja}を受け付けます。",
                   f"The holder may apply for {app.procedure.en}.")


def _legal_representative(app: Application) -> Allowed | Refused:
    h, a, on = app.holder, app.applicant, app.on
    minor = age_on(h.birth, on) < MAJORITY_AGE
    if not (minor or h.adult_ward):
        return Refused("R5.3", "本人が未成年者・成年被後見人でないため、法定代理人による申請は"
                       "できません。",
                       "The holder is neither a minor nor an adult ward, so has no legal "
                       "representative to apply.")
    missing: list[Requirement] = []
    if h.adult_ward:
        if AuthorityProof.GUARDIANSHIP_REGISTRY_CERTIFICATE not in a.authority_proofs:
            missing.append(Requirement.GUARDIANSHIP_REGISTRY_CERTIFICATE)
    elif not (a.parent_heads_holder_household or h.honseki_here
              or AuthorityProof.FAMILY_REGISTER_CERTIFICATE in a.authority_proofs):
        missing.append(Requirement.FAMILY_REGISTER_CERTIFICATE)
    refused = _documents_refusal("R5.3", _id_check(a.ids, on), missing,
                                 "法定代理人の書類が足りません。",
                                 "The legal representative's documents are incomplete.")
    if refused:
        return refused
    return Allowed("R5.3", f"法定代理人による{app.procedure.ja}を受け付けます。",
                   f"The legal representative may apply for {app.procedure.en}.")


def _voluntary_proxy(app: Application) -> Allowed | Refused | SecondVisit:
    a, on, proc = app.applicant, app.on, app.procedure
    refused = _documents_refusal("R5.4", _id_check(a.ids, on), [],
                                 "任意代理人の本人確認書類が必要です。",
                                 "The voluntary proxy's photo ID is needed.")
    if refused:
        return refused

    form = a.inquiry_form
    # R5.5 a: renewal with the form enclosed in the expiry notice — one visit.
    if proc is Procedure.RENEWAL and form is not None and form.from_expiry_notice:
        return _check_form(app, form, "R5.5")
    # R5.5 b: a same-household member filing the move for the holder the same day.
    if (proc in (Procedure.NEW_ISSUANCE, Procedure.REISSUE_AFTER_CHANGE)
            and a.same_household and a.move_filed_on == on):
        if not a.letter_of_attorney:
            return Refused("R5.5", "同一世帯員が転入届・転居届とあわせて申請する場合は委任状が"
                           "必要です。",
                           "A household member applying with the move needs a letter of "
                           "attorney.", missing=(Requirement.LETTER_OF_ATTORNEY,))
        return Allowed("R5.5", "同一世帯員による転入・転居に伴う発行として、1回の来庁で手続き"
                       "できます。",
                       "Issued in one visit: a household member filing the move the same day.")
    # R5.4: two visits; the form mailed after visit 1 comes back on visit 2.
    if form is None or form.from_expiry_notice:
        return SecondVisit(
            "R5.4", "任意代理人による手続きは1日で完了しません。本人あてに照会書を転送不要の"
            "簡易書留で郵送します。本人が記入・封かんした照会書兼回答書兼委任状、本人の"
            "カード、代理人の本人確認書類を持って再度来庁してください。",
            "A voluntary proxy cannot finish in one day. The inquiry form is mailed to the "
            "holder by non-forwardable registered mail; come back with it filled in and sealed "
            "by the holder, the holder's card and your photo ID.",
            needs=_second_visit_needs(app))
    return _check_form(app, form, "R5.4")


def _check_form(app: Application, form: InquiryForm,
                rule: str) -> Allowed | Refused | SecondVisit:
    """R5.4: the form must be complete and sealed; PINs that do not match restart the
    inquiry (nothing is issued that day)."""
    if not form.complete:
        return Refused("R5.4", "照会書兼回答書兼委任状の記入に不備があるため受け付けできません。",
                       "The inquiry form is incomplete and cannot be accepted.",
                       missing=(Requirement.INQUIRY_FORM,))
    if not form.sealed:
        return Refused("R5.4", "暗証番号欄が封かん・目隠しされていないため受け付けできません。",
                       "The PINs on the inquiry form are not sealed or masked; it cannot be "
                       "accepted.", missing=(Requirement.INQUIRY_FORM,))
    if not form.pins_match:
        return SecondVisit(
            "R5.4", "照会書に記載された暗証番号が一致しないため、本日は発行できません。"
            "改めて本人あてに照会書を郵送します。",
            "The PINs on the form do not match; nothing is issued today and a new inquiry "
            "form is mailed to the holder.",
            needs=_second_visit_needs(app))
    return Allowed(rule, "照会書兼回答書兼委任状を確認しました。手続きできます。",
                   "The inquiry form checks out; the procedure can be done.")


def _second_visit_needs(app: Application) -> tuple[Requirement, ...]:
    """R5.4: what the proxy brings on visit 2 (the card only where the procedure uses it)."""
    card = (Requirement.HOLDER_CARD,) if app.procedure.uses_card or app.card_presented else ()
    return (*card, Requirement.APPLICANT_PHOTO_ID, Requirement.INQUIRY_FORM)
