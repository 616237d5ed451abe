"""Kiosk PIN reset with the smartphone app, and convenience-store issuance (R6.1–R6.5, R7).

R6 flow: the app checks the holder with the *other* PIN (R6.1) — for a SIGN reset also a
face match against the chip's photo (R6.2, five consecutive failures lock the app for that
card) — then within 24 hours, at a kiosk open 6:30–23:00 (R6.4), the holder enters the other
PIN again and sets the new one. The reset clears the lock and the count (R6.5:
:func:`~openjpki.rules.pins.after_pin_reset`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from openjpki.rules.calendars import KIOSK_HOURS, Hours, kiosk_open
from openjpki.rules.dates import age_on, to_jst
from openjpki.rules.decision import Allowed, Refused
from openjpki.rules.kinds import CertKind, PinKind
from openjpki.rules.renewal import convenience_services_from
from openjpki.rules.revocation import CardEnd

FACE_MATCH_LIMIT = 5
"""R6.2: consecutive face-match failures that lock the app for the card."""
RESERVATION_WINDOW = timedelta(hours=24)
"""R6.2, R6.3: the kiosk step must follow the app step within 24 hours."""
CONVENIENCE_MIN_AGE = 15
"""R7.1: convenience-store issuance is not for holders under 15."""


def pin_for_kiosk_reset(target: "PinKind | str") -> PinKind:
    """R6.1: the PIN that proves the holder when resetting ``target``: the AUTH PIN for a
    SIGN reset, the SIGN PIN for an AUTH reset. The card PIN is reset at the counter only."""
    target = PinKind.parse(target)
    if target is PinKind.CARD:
        raise ValueError("the resident-registry PIN cannot be reset at a kiosk")
    return PinKind.AUTH if target is PinKind.SIGN else PinKind.SIGN


def _rule(target: PinKind) -> str:
    return "R6.2" if target is PinKind.SIGN else "R6.3"


def kiosk_reset_route(target: "PinKind | str", knows_other_pin: bool,
                      other_pin_locked: bool = False) -> Allowed | Refused:
    """R6.1: can ``target`` be reset with the app and a kiosk? Only if the holder knows the
    other certificate's PIN and it is not locked; otherwise only the counter can reset."""
    target = PinKind.parse(target)
    other = pin_for_kiosk_reset(target)
    if not knows_other_pin or other_pin_locked:
        why_ja = "ロックされている" if knows_other_pin else "分からない"
        why_en = "is locked" if knows_other_pin else "is not known"
        return Refused("R6.1",
                       f"{target.ja}の再設定には{other.ja}が必要ですが、{why_ja}ため"
                       "コンビニ等では再設定できません。市区町村の窓口で手続きしてください。",
                       f"Resetting the {target.en} needs the {other.en}, which {why_en}; "
                       "only the municipal counter can reset it.")
    return Allowed("R6.1", f"{other.ja}を使って、スマートフォンとキオスク端末で{target.ja}を"
                   "再設定できます。",
                   f"The {target.en} can be reset with the app and a kiosk, using the "
                   f"{other.en}.")


@dataclass(frozen=True)
class FaceMatch:
    """R6.2: consecutive face-match failures of the app for one card."""

    failures: int = 0
    app_locked: bool = False


def after_face_match(state: FaceMatch, matched: bool) -> tuple[FaceMatch, Allowed | Refused]:
    """R6.2: the state after one face match. A match resets the count; the 5th consecutive
    failure locks the app for that card (then only the counter can reset)."""
    if state.app_locked:
        return state, Refused("R6.2", "顔認証に連続して失敗したためアプリは利用できません。"
                              "市区町村の窓口で手続きしてください。",
                              "The app is locked after repeated face-match failures; use "
                              "the municipal counter.")
    if matched:
        return FaceMatch(), Allowed("R6.2", "顔認証による本人確認ができました。",
                                    "Face match succeeded.")
    failures = state.failures + 1
    if failures >= FACE_MATCH_LIMIT:
        return (replace(state, failures=FACE_MATCH_LIMIT, app_locked=True),
                Refused("R6.2", f"顔認証に{FACE_MATCH_LIMIT}回連続で失敗したため、アプリの使用を"
                        "制限しました。市区町村の窓口で手続きしてください。",
                        f"{FACE_MATCH_LIMIT} face-match failures in a row: the app is locked "
                        "for this card; use the municipal counter."))
    left = FACE_MATCH_LIMIT - failures
    return (replace(state, failures=failures),
            Refused("R6.2", f"顔認証に失敗しました（あと{left}回失敗するとロックされます）。",
                    f"Face match failed ({left} more failure(s) lock the app)."))


def kiosk_reset_decision(target: "PinKind | str", prepared_at: datetime | None, at: datetime,
                         hours: Hours = KIOSK_HOURS) -> Allowed | Refused:
    """R6.2 (SIGN) / R6.3 (AUTH), R6.4: may the kiosk step of a reset prepared in the app at
    ``prepared_at`` be done at ``at``? The kiosk step follows an app step (``prepared_at``
    ``None``: there is none open for this card and PIN), within 24 hours (inclusive) and
    within kiosk hours."""
    target = PinKind.parse(target)
    pin_for_kiosk_reset(target)
    rule = _rule(target)
    if prepared_at is None:
        return Refused(rule, "スマートフォンアプリでの手続きがされていません。先にアプリで本人確認を"
                       "行ってください（24時間以内にキオスク端末で手続きできます）。",
                       "No app step was done for this card: confirm your identity in the app "
                       "first, then come to a kiosk within 24 hours.")
    prepared_at, at = to_jst(prepared_at), to_jst(at)
    if at < prepared_at:
        raise ValueError("the kiosk step is before the app step")
    if at - prepared_at > RESERVATION_WINDOW:
        return Refused(rule, "アプリでの手続きから24時間を過ぎています。アプリの手続きからやり直して"
                       "ください。",
                       "More than 24 hours have passed since the app step; start again in the "
                       "app.")
    open_ = kiosk_open(at, "R6.4", hours)
    if not open_.allowed:
        return open_
    return Allowed(rule, f"キオスク端末で新しい{target.ja}を設定できます。",
                   f"The new {target.en} can be set at the kiosk.")


def kiosk_identity_decision(target: "PinKind | str", proving_status: str | None
                            ) -> Allowed | Refused:
    """R6.1–R6.3: the other certificate's PIN proves who the holder is only while that
    certificate is good — the PIN of a revoked (or held) SIGN certificate proves nothing,
    and only the counter can reset then."""
    target = PinKind.parse(target)
    other = pin_for_kiosk_reset(target)
    if proving_status != "good":
        cert = CertKind(other.value)
        return Refused(_rule(target), f"{cert.ja}が有効でないため、その暗証番号では本人確認が"
                       "できません。お住まいの市区町村の窓口で暗証番号の再設定をしてください。",
                       f"The {cert.en} is not valid, so its PIN cannot prove who you are; "
                       "reset the PIN at the municipal counter.")
    return Allowed(_rule(target), "本人確認ができました。", "Identity confirmed.")


def kiosk_reset_card_decision(card_state: str | None) -> Allowed | Refused:
    """R6.1: the app and the kiosk reset PINs only on an active card; a card returned,
    voided, lost or expired (``card_state``, the codes of
    :class:`~openjpki.rules.revocation.CardEnd`) is dealt with at the counter. ``None`` or
    ``"active"``: the card is active."""
    if card_state in (None, "active"):
        return Allowed("R6.1", "有効なカードです。", "The card is active.")
    state = CardEnd(card_state).value
    return Refused("R6.1", "このカードは有効ではないため、アプリでは手続きできません。"
                   "市区町村の窓口で手続きしてください。",
                   f"The card is {state}; use the municipal counter.")


def convenience_login_decision(problem: str | None) -> Allowed | Refused:
    """R7.1: convenience-store issuance starts by logging in with the AUTH certificate: the
    card signs the kiosk's challenge with the AUTH key after the AUTH PIN. ``problem`` is
    why that proof failed (in English, e.g. "the card's signature over the challenge does
    not verify"), ``None`` when it held."""
    if problem is None:
        return Allowed("R7.1", "利用者証明用電子証明書で本人確認ができました。",
                       "Logged in with the user authentication certificate.")
    return Refused("R7.1", "利用者証明用電子証明書による本人確認ができませんでした。",
                   f"Login with the user authentication certificate failed: {problem}.")


def residence_certificate_decision(on_register: bool) -> Allowed | Refused:
    """R5.2 (with R7.1): a certificate of residence (住民票の写し) is issued at the
    convenience store only to a person on this municipality's resident register."""
    if not on_register:
        return Refused("R5.2", "この市区町村の住民基本台帳に記録がないため、証明書を交付できません。",
                       "The holder is not on this municipality's resident register.")
    return Allowed("R5.2", "住民基本台帳に記録されています。",
                   "The holder is on this municipality's resident register.")


def convenience_issuance_decision(birth: date, at: datetime, *, auth_valid: bool = True,
                                  auth_renewed_on: date | None = None,
                                  hours: Hours = KIOSK_HOURS) -> Allowed | Refused:
    """R7.1, R7.2, R3.5: may the holder use convenience-store issuance (コンビニ交付) at
    ``at``? It uses the AUTH certificate (R7.1), is not for holders under 15 (R7.1), works
    6:30–23:00 (R7.2) and, after a renewal, from the 2nd business day after it (R7.2, R3.5)."""
    at = to_jst(at)
    if age_on(birth, at.date()) < CONVENIENCE_MIN_AGE:
        return Refused("R7.1", "15歳未満の方はコンビニ交付サービスを利用できません。",
                       "Convenience-store issuance is not available to holders under 15.")
    if not auth_valid:
        return Refused("R7.1", "コンビニ交付には有効な利用者証明用電子証明書が必要です。",
                       "Convenience-store issuance needs a valid user authentication "
                       "certificate.")
    if auth_renewed_on is not None:
        from_day = convenience_services_from(auth_renewed_on)
        if at.date() < from_day:
            return Refused("R7.2", f"電子証明書の更新後、コンビニ交付が利用できるのは2営業日後の"
                           f"{from_day.year}年{from_day.month}月{from_day.day}日からです。",
                           "After a renewal convenience-store services work from 2 business "
                           f"days later: from {from_day.isoformat()}.", opens_on=from_day)
    open_ = kiosk_open(at, "R7.2", hours)
    if not open_.allowed:
        return open_
    return Allowed("R7.2", "コンビニ交付サービスを利用できます。",
                   "Convenience-store issuance is available.")
