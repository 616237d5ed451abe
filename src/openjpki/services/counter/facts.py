"""From the register and the card records to the values the rules decide on: the holder's
facts (rules.eligibility.Holder), the applicant (Applicant), the SIGN facts a certificate
carries (pki.SignFacts). The resident-registry PIN check (R1.6) asks the card: see
:mod:`.cardpin`."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from openjpki.pki import SignFacts
from openjpki.rules.documents import InquiryForm
from openjpki.rules.eligibility import Applicant, Holder
from openjpki.services.counter.requests import ApplicantInput
from openjpki.store.counter_models import Card
from openjpki.store.residents import Resident, get_resident

# Relationships to the household head (世帯主との続柄) that make the head a parent.
CHILD_RELATIONSHIPS = frozenset({"child", "子", "長男", "長女", "二男", "二女", "三男", "三女"})


def holder_facts(r: Resident, card: Card | None, *, new_card: bool = False) -> Holder:
    """R5.2 facts: on the register, the card valid and its face up to date. A card being
    handed over new is valid and current by construction."""
    if new_card:
        card_valid, expiry, face = True, None, True
    else:
        card_valid = card is not None and card.state == "active"
        expiry = card.expires_on if card is not None else None
        face = card.face_up_to_date if card is not None else True
    return Holder(birth=r.birth_date, on_register=r.on_register, card_valid=card_valid,
                  card_expiry=expiry, card_face_up_to_date=face, adult_ward=r.adult_ward,
                  foreign_resident=r.foreign_resident, stay_until=r.stay_until,
                  honseki_here=r.honseki_here)


def applicant_facts(s: Session, r: Resident, a: ApplicantInput, *,
                    move_filed_on: date | None, form: InquiryForm | None) -> Applicant:
    """R5.3/R5.5 b facts looked up on the register: whether the representative is a parent
    heading the holder's household, whether the proxy lives in it."""
    rep = get_resident(s, a.representative_id) if a.representative_id is not None else None
    same_household = bool(rep and rep.on_register and rep.household_id == r.household_id)
    parent_heads = bool(same_household and rep.relationship == "head"
                        and r.relationship in CHILD_RELATIONSHIPS)
    return Applicant(
        type=a.type, ids=a.ids, authority_proofs=frozenset(a.authority_proofs),
        parent_heads_holder_household=parent_heads, holder_present=a.holder_present,
        same_household=same_household, move_filed_on=move_filed_on if same_household else None,
        letter_of_attorney=a.letter_of_attorney, inquiry_form=form)


def sign_name(r: Resident) -> str:
    """The name a SIGN certificate carries (R1.2). **Decision** (PROFILES.md leaves open how
    旧氏 and 通称 are carried): they follow the name in full-width parentheses, e.g.
    ``山田　花子（旧氏　鈴木）``, ``スミス　ジョン（通称　山田　太郎）``."""
    name = r.name
    if r.former_surname:
        name += f"（旧氏　{r.former_surname}）"
    if r.alias:
        name += f"（通称　{r.alias}）"
    return name


def sign_facts(r: Resident) -> SignFacts:
    """The basic four facts of the resident as a SIGN certificate carries them (R1.2)."""
    return SignFacts(name=sign_name(r), address=r.address, birth_date=r.birth_date, sex=r.sex)
