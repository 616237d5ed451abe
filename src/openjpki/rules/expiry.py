"""Certificate validity (RULES.md §2: R2.1–R2.6).

A certificate expires on the earliest of (R2.1) the 5th birthday after the day of issue and
the card's expiry, (R2.2, SIGN only) the AUTH certificate's expiry on the same card, and
(R2.3, foreign residents) the end of the period of stay. The expiry date is the last valid
day (the profile ends it at 23:59:59 JST).

R2.4 **Decision**: a birthday on the issue day does not count; a 29 February birthday falls
on 28 February in common years. When two limits fall on the same day, the earlier-numbered
rule is named (R2.1 before R2.2 before R2.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Iterator

from openjpki.rules.dates import age_on, nth_birthday_after
from openjpki.rules.decision import LabelledEnum, Refused
from openjpki.rules.kinds import CertKind

CERTIFICATE_BIRTHDAYS = 5
"""R2.1: certificates last to the 5th birthday after the day of issue."""
CARD_BIRTHDAYS_ADULT = 10
CARD_BIRTHDAYS_YOUNG = 5
CARD_ADULT_AGE = 18
"""R2.5 (reference): cards of holders 18 or over at issue last to the 10th birthday."""

LEGACY_JUKI_ISSUANCE_ENDED = date(2015, 12, 22)
"""R2.6: the last day 住民基本台帳カード certificates were issued or renewed."""
LEGACY_JUKI_VALIDITY_YEARS = 3


class ExpiryBasis(LabelledEnum):
    """What limited a certificate's validity."""

    BIRTHDAY = ("birthday", "発行の日後5回目の誕生日", "5th birthday after the day of issue")
    CARD = ("card", "マイナンバーカードの有効期限", "the card's expiry")
    AUTH = ("auth", "利用者証明用電子証明書の有効期限", "the AUTH certificate's expiry")
    STAY = ("stay", "在留期間の満了日", "the end of the period of stay")


_RULE_OF = {ExpiryBasis.BIRTHDAY: "R2.1", ExpiryBasis.CARD: "R2.1",
            ExpiryBasis.AUTH: "R2.2", ExpiryBasis.STAY: "R2.3"}


@dataclass(frozen=True)
class CertificateExpiry:
    """A certificate's last valid day, the rule that set it, and what limited it.
    Unpacks as ``expires_on, rule = certificate_expiry(...)``."""

    expires_on: date
    rule: str
    basis: ExpiryBasis

    def __iter__(self) -> Iterator[Any]:
        return iter((self.expires_on, self.rule))

    def to_dict(self) -> dict[str, Any]:
        """The CLI/API form: ``{"expires_on": "YYYY-MM-DD", "rule": "R2.x"}``."""
        return {"expires_on": self.expires_on.isoformat(), "rule": self.rule}


def certificate_expiry(kind: "CertKind | str", birth: date, issued: date, card_expiry: date,
                       auth_expiry: date | None = None,
                       stay_until: date | None = None) -> CertificateExpiry:
    """R2.1–R2.4: the last valid day of a certificate of ``kind`` issued on ``issued``.

    ``card_expiry``: the card's own expiry (R2.1). ``auth_expiry``: the AUTH certificate's
    expiry on the same card; it caps SIGN only (R2.2) and is ignored for AUTH.
    ``stay_until``: the end of a foreign resident's period of stay (R2.3), ``None`` for
    others. Raises ``ValueError`` for impossible input: a birth after the issue day, or a
    card, AUTH certificate or stay that already ended before the issue day."""
    kind = CertKind.parse(kind)
    if birth > issued:
        raise ValueError("the birth date is after the issue date")
    if card_expiry < issued:
        raise ValueError("the card expired before the issue date")
    if stay_until is not None and stay_until < issued:
        raise ValueError("the period of stay ended before the issue date")
    candidates = [
        (nth_birthday_after(birth, issued, CERTIFICATE_BIRTHDAYS), ExpiryBasis.BIRTHDAY)]
    if kind is CertKind.SIGN and auth_expiry is not None:
        if auth_expiry < issued:
            raise ValueError("the AUTH certificate expired before the issue date")
        candidates.append((auth_expiry, ExpiryBasis.AUTH))
    # The stay before the card: a foreign resident's card ends with the stay too (R2.3), and
    # of equal days the stay is what ended the validity.
    if stay_until is not None:
        candidates.append((stay_until, ExpiryBasis.STAY))
    candidates.append((card_expiry, ExpiryBasis.CARD))
    day, basis = min(candidates, key=lambda c: c[0])  # min keeps the first of equals
    return CertificateExpiry(day, _RULE_OF[basis], basis)


def sign_certificate_expiry(birth: date, issued: date, card_expiry: date,
                            auth_expiry: date | None = None,
                            stay_until: date | None = None) -> CertificateExpiry:
    """R2.1–R2.3 for the SIGN certificate (see :func:`certificate_expiry`)."""
    return certificate_expiry(CertKind.SIGN, birth, issued, card_expiry, auth_expiry, stay_until)


def auth_certificate_expiry(birth: date, issued: date, card_expiry: date,
                            stay_until: date | None = None) -> CertificateExpiry:
    """R2.1, R2.3 for the AUTH certificate (see :func:`certificate_expiry`)."""
    return certificate_expiry(CertKind.AUTH, birth, issued, card_expiry, None, stay_until)


def card_expiry(birth: date, issued: date) -> date:
    """R2.5 (reference only): the card's own expiry — the 10th birthday after the day of
    issue for a holder aged 18 or over on that day, the 5th for a younger one, with the
    birthday logic of R2.4. The certificate rules take the card's expiry as an input."""
    if birth > issued:
        raise ValueError("the birth date is after the issue date")
    n = CARD_BIRTHDAYS_ADULT if age_on(birth, issued) >= CARD_ADULT_AGE else CARD_BIRTHDAYS_YOUNG
    return nth_birthday_after(birth, issued, n)


def legacy_juki_certificate_request() -> Refused:
    """R2.6: certificates on the legacy 住民基本台帳カード are no longer issued or renewed
    (ended 2015-12-22); the advice is to apply for a My Number Card."""
    return Refused(
        "R2.6",
        "住民基本台帳カードの電子証明書の発行・更新は平成27年12月22日で終了しました。"
        "電子証明書が必要な方はマイナンバーカード（個人番号カード）を申請してください。",
        "Certificates on the Basic Resident Register card (住基カード) have not been issued "
        "or renewed since 22 December 2015. Please apply for a My Number Card, which "
        "carries both certificates.")
