"""Which certificates end, and why (RULES.md R3.7, R4.1–R4.5; PROFILES.md "Reasons").

Reason names are RFC 5280's, spelled as ``cryptography.x509.ReasonFlags`` values, so the
authorities can do ``x509.ReasonFlags(reason.value)``:

=====================  ==========================================================
affiliationChanged     recorded facts changed: a move, a new name (R4.1)
superseded             replaced by a renewed or re-issued certificate (R3.7)
cessationOfOperation   no longer needed: the holder's request, the card returned (R4.3, R4.4)
keyCompromise          key or card compromised or lost
certificateHold        on hold — never released, later revoked with its final reason (R4.3)
unspecified            destroyed before use
=====================  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Union

from openjpki.rules.decision import Allowed, LabelledEnum, Refused
from openjpki.rules.kinds import CertKind

BOTH = (CertKind.SIGN, CertKind.AUTH)


class Reason(LabelledEnum):
    """RFC 5280 CRLReason, valued as ``cryptography.x509.ReasonFlags``."""

    AFFILIATION_CHANGED = ("affiliationChanged", "記録事項の変更", "recorded facts changed")
    SUPERSEDED = ("superseded", "更新・再発行", "superseded by a new certificate")
    CESSATION_OF_OPERATION = ("cessationOfOperation", "利用の取りやめ", "no longer needed")
    KEY_COMPROMISE = ("keyCompromise", "鍵・カードの危殆化または紛失",
                      "key or card compromised or lost")
    CERTIFICATE_HOLD = ("certificateHold", "一時保留", "on hold")
    UNSPECIFIED = ("unspecified", "使用前の廃棄", "destroyed before use")

    @classmethod
    def parse(cls, value: "Reason | str") -> "Reason":
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown revocation reason {value!r} ({names})") from None


class FactChange(LabelledEnum):
    """R4.1: a change of the basic four facts (基本4情報) registered at the municipality."""

    MOVE_IN = ("move_in", "転入", "move into the municipality")
    MOVE = ("move", "転居", "move within the municipality")
    ADDRESS = ("address", "住所の変更", "other change of address (e.g. re-numbering)")
    NAME = ("name", "氏名の変更", "change of name (marriage etc.)")
    OLD_SURNAME = ("old_surname", "旧氏の変更", "change of the registered former surname")
    COMMON_NAME = ("common_name", "通称の変更", "change of a foreign resident's common name")
    BIRTH_DATE = ("birth_date", "生年月日の変更", "change of date of birth")
    SEX = ("sex", "性別の変更", "change of sex")


class HolderRequest(LabelledEnum):
    """R4.3 and common JPKI practice: what a holder may ask to end."""

    VOLUNTARY = ("voluntary", "自発的な利用取りやめ", "voluntary withdrawal")
    HOLD = ("hold", "一時保留", "temporary hold")
    LOST_CARD = ("lost_card", "カードの紛失・盗難", "card lost or stolen")
    KEY_COMPROMISE = ("key_compromise", "秘密鍵の漏えいのおそれ", "key compromise")
    DESTROYED_BEFORE_USE = ("destroyed_before_use", "使用前の廃棄", "destroyed before use")


class CardEnd(LabelledEnum):
    """R4.4: the ways a card ends."""

    RETURNED = ("returned", "カードの返納", "card returned")
    VOIDED = ("voided", "カードの廃止", "card voided")
    LOST = ("lost", "カードの紛失", "card lost")
    EXPIRED = ("expired", "カードの有効期限満了", "card expired")


class CertStatus(LabelledEnum):
    """A certificate's status as OCSP and the CRL show it."""

    GOOD = ("good", "有効", "good")
    HOLD = ("hold", "一時保留", "on hold")
    REVOKED = ("revoked", "失効", "revoked")


@dataclass(frozen=True)
class CertificateEnd:
    """One certificate that ends: its kind, the RFC 5280 reason to publish (``None`` when it
    simply expires and nothing is published), the rule, and whether the counter offers a new
    one in the same visit (R4.5)."""

    kind: CertKind
    reason: Reason | None
    rule: str
    message_ja: str
    message_en: str
    reissue_same_visit: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "reason": self.reason.value if self.reason else None,
                "rule": self.rule, "message_ja": self.message_ja, "message_en": self.message_en,
                "reissue_same_visit": self.reissue_same_visit}


def revocations_for_fact_change(change: "FactChange | str") -> tuple[CertificateEnd, ...]:
    """R4.1, R4.2, R4.5: a change of address, name (incl. 旧氏 and 通称), date of birth or
    sex revokes SIGN (affiliationChanged) the moment it is registered; AUTH carries no facts
    and is not revoked. The counter offers a new SIGN in the same visit (R4.5)."""
    change = FactChange(change)
    return (CertificateEnd(
        CertKind.SIGN, Reason.AFFILIATION_CHANGED, "R4.1",
        f"{change.ja}により署名用電子証明書は失効します（利用者証明用電子証明書は失効しません）。",
        f"The {change.en} revokes the signature certificate (the user authentication "
        "certificate stays valid).",
        reissue_same_visit=True),)


_REQUEST_REASONS = {
    HolderRequest.VOLUNTARY: Reason.CESSATION_OF_OPERATION,
    HolderRequest.HOLD: Reason.CERTIFICATE_HOLD,
    HolderRequest.LOST_CARD: Reason.KEY_COMPROMISE,
    HolderRequest.KEY_COMPROMISE: Reason.KEY_COMPROMISE,
    HolderRequest.DESTROYED_BEFORE_USE: Reason.UNSPECIFIED,
}


def request_reason(request: "HolderRequest | str") -> Reason:
    """R4.3: the RFC 5280 reason a holder's request is published with (certificateHold for
    a hold, the final reason otherwise: cessationOfOperation, keyCompromise, unspecified)."""
    return _REQUEST_REASONS[HolderRequest(request)]


def revocations_for_holder_request(request: "HolderRequest | str",
                                   kinds: Iterable["CertKind | str"] = BOTH
                                   ) -> tuple[CertificateEnd, ...]:
    """R4.3: the holder asks for the certificate(s) ``kinds`` to be revoked, or put on hold
    (reason certificateHold: published at once, never released, see
    :func:`status_transition`)."""
    request = HolderRequest(request)
    reason = request_reason(request)
    return tuple(CertificateEnd(
        k, reason, "R4.3",
        f"本人の申請（{request.ja}）により{k.ja}を" + ("一時保留します。" if request is
                                                    HolderRequest.HOLD else "失効させます。"),
        f"On the holder's request ({request.en}) the {k.en} is "
        + ("put on hold." if request is HolderRequest.HOLD else "revoked."))
        for k in _kinds(kinds))


def revocations_for_card_end(end: "CardEnd | str") -> tuple[CertificateEnd, ...]:
    """R4.4: when the card ends both certificates end with it. A returned or voided card
    revokes them (cessationOfOperation), a lost one with keyCompromise; an expired card needs
    no revocation, the certificates expired with it (R2.1: never after the card), so
    ``reason`` is ``None``."""
    end = CardEnd(end)
    reason = {CardEnd.RETURNED: Reason.CESSATION_OF_OPERATION,
              CardEnd.VOIDED: Reason.CESSATION_OF_OPERATION,
              CardEnd.LOST: Reason.KEY_COMPROMISE, CardEnd.EXPIRED: None}[end]
    return tuple(CertificateEnd(
        k, reason, "R4.4", f"{end.ja}により{k.ja}も終了します。",
        f"The {k.en} ends with the card ({end.en}).") for k in BOTH)


def revocation_for_replacement(kind: "CertKind | str") -> CertificateEnd:
    """R3.7: a renewed or re-issued certificate replaces the live one of the same kind on
    the card, which is revoked as superseded (one live certificate per kind per card)."""
    kind = CertKind.parse(kind)
    return CertificateEnd(kind, Reason.SUPERSEDED, "R3.7",
                          f"新しい{kind.ja}の発行により、以前の{kind.ja}は失効します。",
                          f"The previous {kind.en} is revoked, superseded by the new one.")


Event = Union[FactChange, HolderRequest, CardEnd]


def certificates_ending(event: Event, kinds: Iterable["CertKind | str"] = BOTH
                        ) -> tuple[CertificateEnd, ...]:
    """R4.1–R4.4 in one call: what ends for a fact change, a holder request (``kinds`` say
    which certificates were asked for) or the end of the card."""
    if isinstance(event, FactChange):
        return revocations_for_fact_change(event)
    if isinstance(event, HolderRequest):
        return revocations_for_holder_request(event, kinds)
    if isinstance(event, CardEnd):
        return revocations_for_card_end(event)
    raise TypeError(f"not a revocation event: {event!r}")


def status_transition(current: "CertStatus | str", target: "CertStatus | str",
                      reason: "Reason | str | None" = None) -> Allowed | Refused:
    """R4.3: is the status change ``current`` → ``target`` (with ``reason``) allowed?

    good → hold (reason certificateHold or none); good → revoked and hold → revoked with a
    final reason (anything but certificateHold). A hold is never released (hold → good is
    refused) and a revocation is final."""
    current, target = CertStatus(current), CertStatus(target)
    reason = None if reason is None else Reason.parse(reason)
    if current is CertStatus.REVOKED:
        return Refused("R4.3", "失効した電子証明書の状態は変更できません。",
                       "A revoked certificate stays revoked.")
    if target is CertStatus.GOOD:
        if current is CertStatus.HOLD:
            return Refused("R4.3", "一時保留は解除できません。失効の手続きのみ可能です。",
                           "A hold is never released back to good; it can only become a "
                           "revocation.")
        return Refused("R4.3", "電子証明書はすでに有効です。", "The certificate is already good.")
    if target is CertStatus.HOLD:
        if current is CertStatus.HOLD:
            return Refused("R4.3", "電子証明書はすでに一時保留中です。",
                           "The certificate is already on hold.")
        if reason not in (None, Reason.CERTIFICATE_HOLD):
            return Refused("R4.3", "一時保留の理由は certificateHold です。",
                           "A hold takes the reason certificateHold.")
        return Allowed("R4.3", "一時保留にします。", "The certificate is put on hold.")
    # target is REVOKED
    if reason is None or reason is Reason.CERTIFICATE_HOLD:
        return Refused("R4.3", "失効には最終的な失効理由が必要です。",
                       "A revocation needs a final reason (not certificateHold).")
    return Allowed("R4.3", f"失効させます（{reason.ja}）。",
                   f"The certificate is revoked ({reason.value}).")


def certificate_status_decision(kind: "CertKind | str", status: "CertStatus | str",
                                reason: "Reason | str | None" = None) -> Allowed | Refused:
    """R4.1, R4.3, R3.7: may a certificate of ``kind`` with this ``status`` (and RFC 5280
    ``reason``, as OCSP or the CRL gave it) still be used, e.g. to sign? Only a good one.

    A SIGN revoked as affiliationChanged was ended by a change of the basic four facts
    (R4.1; a new one is issued at the counter, R4.5); one revoked as superseded was replaced
    by a renewed or re-issued certificate (R3.7); any other revocation or a hold is the
    holder's request or the end of the card (R4.3, R4.4). ``reason`` may be a name outside
    :class:`Reason` (e.g. ``"privilegeWithdrawn"``): it is only shown."""
    kind, status = CertKind.parse(kind), CertStatus(status)
    reason = reason.value if isinstance(reason, Reason) else reason
    if status is CertStatus.GOOD:
        return Allowed("R4.3", f"{kind.ja}は有効です。", f"The {kind.en} is good.")
    if status is CertStatus.REVOKED and reason == Reason.AFFILIATION_CHANGED.value \
            and kind is CertKind.SIGN:
        return Refused("R4.1", "基本4情報（氏名・住所等）の変更により、署名用電子証明書は失効して"
                       "います。市区町村の窓口で再発行を受けてください。",
                       "The signature certificate was revoked when the holder's basic facts "
                       "changed (affiliationChanged); a new one can be issued at the counter.")
    if status is CertStatus.REVOKED and reason == Reason.SUPERSEDED.value:
        return Refused("R3.7", f"{kind.ja}は、新しい電子証明書の発行により失効しています"
                       "（superseded）。カードに書き込まれた新しい電子証明書を使ってください。",
                       f"The {kind.en} was revoked when a new one replaced it (superseded); "
                       "use the new certificate written to the card.")
    held = status is CertStatus.HOLD
    return Refused("R4.3", f"{kind.ja}は{'一時保留' if held else '失効'}されています"
                   f"（{reason or '理由なし'}）。",
                   f"The {kind.en} is {'on hold' if held else 'revoked'}"
                   f" ({reason or 'no reason given'}).")


def _kinds(kinds: Iterable["CertKind | str"]) -> tuple[CertKind, ...]:
    if isinstance(kinds, (str, CertKind)):
        kinds = (kinds,)
    out = tuple(dict.fromkeys(CertKind.parse(k) for k in kinds))
    if not out:
        raise ValueError("no certificate kind given")
    return out
