"""Renewal, expiry notices, activation and fees (RULES.md R3.1–R3.6).

R3.1 **Decision**: the window opens on the day after the date three calendar months before
expiry, clamped to the month's end: expiry 1 July → from 2 April (seed 000's worked example);
expiry 31 May → 28/29 February → from 1 March. The window runs to the expiry day itself
(the last valid day). So the window always holds 89 to 92 days, the expiry day included.
"""

from __future__ import annotations

from datetime import date, timedelta

from openjpki.rules.dates import add_business_days, months_before
from openjpki.rules.decision import Allowed, Refused

RENEWAL_WINDOW_MONTHS = 3
"""R3.1: renewal opens three calendar months (plus a day) before expiry."""
ACTIVATION_BUSINESS_DAYS = 2
"""R3.5: convenience-store services work from the 2nd business day after a renewal."""
ISSUANCE_FEE_JPY = 0
"""R3.6: issuance and renewal are free."""
FEE_WITH_PAID_CARD_REISSUE_JPY = 200
"""R3.6: the certificate fee when issued together with a paid re-issue of the card."""


def renewal_opens_on(expiry: date) -> date:
    """R3.1: the first day a certificate expiring on ``expiry`` can be renewed."""
    return months_before(expiry, RENEWAL_WINDOW_MONTHS) + timedelta(days=1)


def renewal_decision(expiry: date, on: date) -> Allowed | Refused:
    """R3.1–R3.3: may a certificate expiring on ``expiry`` be renewed on ``on``?

    - from :func:`renewal_opens_on` to the expiry day: allowed (R3.1);
    - before the window: refused, naming the opening day in ``opens_on`` (R3.2);
    - after expiry: refused as a renewal (R3.3) — a new certificate can be issued at any
      time instead, with the same documents (a new issuance)."""
    opens = renewal_opens_on(expiry)
    if on < opens:
        return Refused(
            "R3.2",
            f"更新手続きは{_ja(opens)}から可能です（有効期限{_ja(expiry)}の3か月前の翌日以降）。",
            f"Renewal opens on {opens.isoformat()}, the day after the date three months "
            f"before the expiry on {expiry.isoformat()}.",
            opens_on=opens)
    if on > expiry:
        return Refused(
            "R3.3",
            f"有効期限（{_ja(expiry)}）を過ぎているため更新はできません。"
            "新規発行として、同じ書類で新しい電子証明書を発行できます。",
            f"The certificate expired on {expiry.isoformat()} and can no longer be renewed; "
            "a new certificate can be issued instead (a new issuance, same documents).")
    return Allowed(
        "R3.1",
        f"更新できます（更新期間 {_ja(opens)}〜{_ja(expiry)}）。",
        f"Renewal is open ({opens.isoformat()} to {expiry.isoformat()}).")


def convenience_services_from(renewed_on: date) -> date:
    """R3.5: the first day convenience-store services (コンビニ交付 etc.) work after a
    renewal done on ``renewed_on``: the 2nd business day after it (see
    :func:`~openjpki.rules.dates.is_business_day` for what a business day is)."""
    return add_business_days(renewed_on, ACTIVATION_BUSINESS_DAYS)


def certificate_fee(with_paid_card_reissue: bool = False) -> int:
    """R3.6: the fee in JPY for issuing or renewing the certificates in one procedure:
    free, or 200 JPY when issued together with a paid re-issue of the card (lost card
    etc.)."""
    return FEE_WITH_PAID_CARD_REISSUE_JPY if with_paid_card_reissue else ISSUANCE_FEE_JPY


def expiry_notice_on(expiry: date) -> date:
    """R3.4 **Decision**: J-LIS's expiry notice (有効期限通知書) goes out "about three months
    before" expiry; we send it on the day the renewal window opens."""
    return renewal_opens_on(expiry)


def expiry_notice_due(expiry: date, on: date, *, expiry_rule: str = "R2.1",
                      already_sent: bool = False) -> bool:
    """R3.4: should the expiry-notice batch run on ``on`` send a notice for a certificate
    expiring on ``expiry``? Yes from :func:`expiry_notice_on` to the expiry day, once.
    **Decision** for 001's "not sent in every case": no notice when the validity was ended by
    the period of stay (``expiry_rule == "R2.3"``). Renewal never depends on the notice."""
    if already_sent or expiry_rule == "R2.3":
        return False
    return expiry_notice_on(expiry) <= on <= expiry


def _ja(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"
