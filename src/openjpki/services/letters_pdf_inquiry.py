"""The inquiry a voluntary proxy's first visit sends to the holder (R5.4): a covering letter
and the 照会書兼回答書兼委任状, as one two-page PDF, mailed to the registered address by
non-forwardable registered mail (転送不要の簡易書留).

Page 1 tells the holder what was applied for, on which day, what to do if they asked for it
(fill in the answer and the letter of attorney, write the PINs and hide them, hand the form
to the proxy) and if they did not; page 2 is the form itself, the same as the one enclosed
with an expiry notice (:func:`letters_pdf_notice.form_page`), with the PIN boxes of the
procedure (``rules.pins_needed``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from openjpki.labels import label
from openjpki.rules.eligibility import pins_needed
from openjpki.rules.documents import Procedure
from openjpki.rules.kinds import CertKind, PinKind
from openjpki.services.letters_pdf import GOTHIC, Sheet, ja_date, wareki
from openjpki.services.letters_pdf_notice import address_block, form_page

TITLE = "電子証明書の申請に関する照会書"
MARKING = "転送不要・簡易書留"


@dataclass(frozen=True)
class InquiryLetter:
    reference: str
    sent_on: date
    name: str
    address: str
    postal_code: str | None
    birth_date: date
    prefecture: str
    municipality: str
    procedure: str
    kinds: tuple[str, ...]


def _request(letter: InquiryLetter) -> str:
    proc = label("procedure", letter.procedure)
    kinds = "・".join(label("kind", k) for k in letter.kinds) or "電子証明書"
    return f"{kinds}の{proc}"


def _pins(letter: InquiryLetter) -> tuple[str, ...]:
    kinds = tuple(CertKind.parse(k) for k in letter.kinds)
    needed = pins_needed(Procedure(letter.procedure), kinds)
    order = (PinKind.SIGN, PinKind.AUTH, PinKind.CARD)
    return tuple(p.value for p in order if p in needed)


def render_inquiry_letter(letter: InquiryLetter) -> bytes:
    """The two pages of one inquiry, as PDF bytes."""
    s = Sheet(title=f"{TITLE} {letter.reference}",
              subject="照会書兼回答書兼委任状（任意代理人による申請、R5.4）")
    _cover(s, letter)
    s.new_page()
    form_page(s, reference_label="照会番号", reference=letter.reference,
              municipality=letter.municipality, name=letter.name, address=letter.address,
              birth_date=letter.birth_date, request=_request(letter), pins=_pins(letter),
              footer=f"{letter.prefecture}{letter.municipality}", page="2/2")
    return s.finish()


def _cover(s: Sheet, letter: InquiryLetter) -> None:
    address_block(s, postal_code=letter.postal_code, address=letter.address, name=letter.name,
                  reference_label="照会番号", reference=letter.reference,
                  issued_on=letter.sent_on, marking=MARKING)
    s.text(105, 60, TITLE, size=17, font=GOTHIC, align="center")
    y = s.wrapped(25, 74, f"{wareki(letter.sent_on)}、代理人の方から、あなたの"
                  f"{_request(letter)}の申請がありました。ご本人の意思と暗証番号を確認するため、"
                  "この照会書をお送りします。", width=160)
    y += 4
    s.text(25, y, "ご本人が代理人に依頼した場合", size=12, font=GOTHIC)
    steps = (
        "1　同封の「照会書兼回答書兼委任状」の回答書欄・委任状欄をもれなく記入してください。",
        "2　暗証番号記載欄にご本人が暗証番号を記入し、必ず目隠しシールを貼付してください"
        "（用紙を封筒に入れて封かんしても構いません）。代理人に暗証番号が見えないように"
        "してください。",
        "3　記入した照会書兼回答書兼委任状を代理人にお渡しください。",
    )
    y += 7
    for step in steps:
        y = s.wrapped(28, y, step, width=155, size=10) + 1
    y += 3
    s.text(25, y, "2回目の来庁時に代理人が持参するもの", size=12, font=GOTHIC)
    y += 7
    for item in ("・ご本人のマイナンバーカード（有効期限内のもの）",
                 "・この照会書兼回答書兼委任状（記入し、目隠しシールを貼付したもの）",
                 "・代理人の本人確認書類（官公署が発行した写真付きのもの、原本）"):
        y = s.wrapped(28, y, item, width=155, size=10) + 1
    y += 3
    for note in ("記載に不備があると受付できませんのでご注意ください。",
                 "暗証番号が照合できない場合は、即日発行は行えず、文書照会により再度来庁いただく"
                 "ことになります。",
                 f"お心当たりのない場合は、この照会書を使わずに{letter.municipality}の窓口まで"
                 "ご連絡ください。",
                 f"この照会書は{ja_date(letter.sent_on)}の申請についてのものです。新しい照会書が"
                 "届いた場合、前の照会書は使えません。"):
        y = s.wrapped(25, y, note, width=160, size=9.5) + 1
    s.line(25, 262, 185, 262, 0.3)
    s.text(25, 268, f"{letter.prefecture}{letter.municipality}長", size=9)
    s.text(185, 268, "1/2", size=9, align="right")
