"""Read-only views the counter pages show beside the services' own answers: a resident with
their cards (``show_resident``), the letters mailed to them, the voluntary proxy's
applications waiting for the inquiry form (R5.4), deferred work (R5.9), the audit trail —
and the checklist of what an applicant brings (R5.3, R5.7), asked of the rules.

The checklist is what ``rules.procedure_decision`` says is missing when the applicant has
brought nothing yet: for the holder, the card; for a legal representative, their photo ID
and the proof of authority the holder's situation needs (R5.3); for a voluntary proxy, what
visit 2 needs (R5.4). Nothing here decides anything the rules do not.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select

from openjpki.rules import SecondVisit, pins_needed
from openjpki.rules.documents import ApplicantType, PhotoId, PresentedId, Procedure, Requirement
from openjpki.rules.eligibility import (
    Applicant, Application, Holder, certificates_on_new_card, procedure_decision,
)
from openjpki.rules.kinds import CertKind

PROCEDURES = [p.value for p in Procedure]
APPLICANTS = [a.value for a in ApplicantType]


def resident_page_data(ctx, resident_id: int) -> dict[str, Any]:
    """Everything the resident page shows, in one read."""
    from openjpki.services.audit import trail
    from openjpki.services.counter import show_resident
    from openjpki.services.counter.letters import letter_dict, letters_of
    from openjpki.services.deferred import list_items
    from openjpki.store.counter_models import Application as AppRow

    resident = show_resident(ctx, resident_id)
    with ctx.store.sessions() as s:
        letters = [letter_dict(x) for x in letters_of(s, resident_id)]
        waiting = list(s.execute(select(AppRow).where(
            AppRow.resident_id == resident_id, AppRow.state == "inquiry_mailed")
            .order_by(AppRow.id)).scalars())
        live = {x["application_id"]: x for x in letters
                if x["kind"] == "inquiry_form" and x["state"] == "sent"}
        proxy = [{"application_id": a.id, "procedure": Procedure(a.procedure),
                  "kinds": [k for k in a.kinds.split(",") if k],
                  "reference": live.get(a.id, {}).get("reference"),
                  "sent_at": live.get(a.id, {}).get("sent_at")} for a in waiting]
        audit = trail(s, f"resident:{resident_id}")
    deferred = list_items(ctx, resident_id=resident_id)
    active = [c for c in resident["cards"] if c["state"] == "active"]
    current = {}
    if active:
        for c in active[-1]["certificates"]:
            if c["current"]:
                current[c["kind"]] = c
    return {"resident": resident, "letters": letters, "proxy": proxy, "deferred": deferred,
            "audit": audit, "active_card": active[-1] if active else None, "current": current,
            "locked": locked_pins(ctx, active[-1]) if active else []}


def locked_pins(ctx, card: dict) -> list[str]:
    """The PINs of the card that are locked (R1.4), as the card itself tells (no PIN is
    needed to read it): the clerk offers the reset (R1.7)."""
    from openjpki.web.pages.cards import pin_status

    try:
        pins = pin_status(ctx, card)
    except Exception:  # noqa: BLE001 — the card cannot be read now (in a reader …): unknown
        return []
    # A kind with no certificate on the card (declined, R5.10; none for a child, R1.5) has no
    # PIN set, which the card reports as blocked: nothing for the clerk to reset there.
    have = {c["kind"] for c in card.get("certificates", []) if c.get("current")}
    locked = [k for k in ("sign", "auth") if k in have and pins.get(k, {}).get("blocked")]
    if card.get("card_pin_locked"):
        locked.append("card")
    return locked


def checklist(resident: dict, procedure: Procedure, applicant: ApplicantType, on: date,
              kinds: tuple[str, ...] = (), visit: int = 2) -> dict[str, Any]:
    """What the applicant brings and which PINs are entered, as the rules say (R5.3–R5.7,
    R1.6, R1.7). ``resident`` is the resident dict of ``show_resident``."""
    birth = date.fromisoformat(resident["birth_date"])
    if on < birth:
        on = birth
    holder = Holder(birth=birth, adult_ward=resident["adult_ward"],
                    foreign_resident=resident["foreign_resident"],
                    honseki_here=resident["honseki_here"])
    if kinds:
        use_kinds = tuple(kinds)
    elif procedure is Procedure.REISSUE_AFTER_CHANGE:
        use_kinds = ("sign",)
    elif procedure is Procedure.NEW_ISSUANCE:  # R5.10, R1.5: what a new card carries
        use_kinds = tuple(k.value for k in certificates_on_new_card(
            birth, on, (), resident["adult_ward"])) or ("auth",)
    else:
        use_kinds = ("sign", "auth")
    items: list[Any] = [Requirement.HOLDER_CARD] if procedure.uses_card else []

    def ask(ids: tuple) -> Any:
        return procedure_decision(Application(
            procedure=procedure, kinds=frozenset(CertKind.parse(k) for k in use_kinds), on=on,
            holder=holder, applicant=Applicant(type=applicant, ids=ids),
            card_presented=procedure.uses_card))

    decision = ask(())
    for m in getattr(decision, "missing", ()):
        if m not in items:
            items.append(m)
    if Requirement.APPLICANT_PHOTO_ID in items or Requirement.HOLDER_PHOTO_ID in items:
        # What is needed once a photo ID is shown (a proxy's form, R5.4).
        decision = ask((PresentedId(PhotoId.DRIVERS_LICENCE),))
    items, later = _by_visit(items, decision, applicant, visit)
    notes: list[tuple[str, str]] = []
    if applicant is ApplicantType.LEGAL_REPRESENTATIVE:
        notes.append(("親権者が本人の世帯の世帯主で続柄が住民票で確認できる場合、または本籍が"
                      "この市区町村にある場合、戸籍全部事項証明書は不要です（R5.3）。",
                      "No family register certificate is needed when the parent heads the "
                      "holder's household and the register shows it, or when the holder's "
                      "本籍 is here (R5.3)."))
    if applicant is ApplicantType.VOLUNTARY_PROXY:
        notes.append(("任意代理人は2回の来庁が必要です。1回目の後、照会書を本人あてに転送不要の"
                      "簡易書留で郵送します（R5.4）。",
                      "A voluntary proxy comes twice: after visit 1 the inquiry form is mailed "
                      "to the holder by non-forwardable registered mail (R5.4)."))
    notes.append(("本人確認書類は原本で、有効期限内、氏名・住所が住民票と一致するものに限ります"
                  "（R5.7）。", "Photo IDs: originals, within their validity, showing the "
                  "current name and address (R5.7)."))
    pins = [p for p in pins_needed(procedure, use_kinds)]
    return {"items": items, "later": later, "notes": notes, "pins": pins, "kinds": use_kinds,
            "refusal": decision if getattr(decision, "allowed", True) is False
            and not isinstance(decision, SecondVisit) and not getattr(decision, "missing", ())
            else None}


def renewal_preview(resident: dict, today: date) -> list[dict[str, Any]]:
    """What a renewal today would give each current certificate of the active card (R2.1–
    R2.3, R2.2 with AUTH renewed first): the new last day, what limits it, and whether it
    gains a day at all — so the clerk can tell the holder before anything is done."""
    from openjpki.rules import certificate_expiry

    cards = [c for c in resident["cards"] if c["state"] == "active"]
    if not cards:
        return []
    card = cards[-1]
    current = {c["kind"]: c for c in card["certificates"] if c["current"]}
    birth = date.fromisoformat(resident["birth_date"])
    card_end = date.fromisoformat(card["expires_on"])
    stay = (date.fromisoformat(resident["stay_until"])
            if resident["foreign_resident"] and resident["stay_until"] else None)
    out: list[dict[str, Any]] = []
    new_auth = None
    for kind in ("auth", "sign"):
        c = current.get(kind)
        if c is None or card_end < today or (stay is not None and stay < today):
            continue
        try:
            exp = certificate_expiry(kind, birth, today, card_end, stay_until=stay,
                                     auth_expiry=new_auth if kind == "sign" else None)
        except ValueError:
            continue
        if kind == "auth":
            new_auth = exp.expires_on
        old = date.fromisoformat(c["not_after"])
        # The card's own end is what the clerk acts on, even when AUTH ties with it (R2.1).
        by_card = exp.expires_on == card_end
        item = {"kind": kind, "not_after": exp.expires_on, "rule": "R2.1" if by_card else exp.rule,
                "basis": "card" if by_card else exp.basis.value,
                "previous": old, "nothing_gained": exp.expires_on <= old}
        auth = current.get("auth")
        if kind == "sign" and auth is not None and auth["status"] == "good":
            alone = min(exp.expires_on, date.fromisoformat(auth["not_after"]))  # R2.2
            if alone < exp.expires_on:
                item["alone"] = {"not_after": alone, "nothing_gained": alone <= old}
        out.append(item)
    return sorted(out, key=lambda x: x["kind"] != "sign")


def _by_visit(items: list, decision: Any, applicant: ApplicantType, visit: int
              ) -> tuple[list, list]:
    """(what is brought today, what the second visit needs): on a voluntary proxy's first
    visit the sealed form is for visit 2 — it reaches the holder only after today (R5.4)."""
    if not isinstance(decision, SecondVisit):
        return items, []
    if applicant is ApplicantType.VOLUNTARY_PROXY and visit == 1:
        return [n for n in items if n is not Requirement.INQUIRY_FORM], list(decision.needs)
    return items + [n for n in decision.needs if n not in items], []


PHOTO_IDS = list(PhotoId)
