"""The expiry notice (有効期限通知書, R3.4) and the inquiry form enclosed with it
(照会書兼回答書兼委任状, R5.5 a), as one two-page PDF.

Page 1 tells the holder which certificates expire when and from when they can be renewed
(R3.1, :func:`~openjpki.rules.renewal_opens_on`), that renewal is possible without this
notice (R3.4), and how a proxy may renew in one visit with the enclosed form (R5.5 a).
Page 2 is the form: the holder's answer, the letter of attorney, and the PIN boxes to be
hidden under a masking sticker (R5.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from openjpki.rules import CertKind, renewal_opens_on
from openjpki.services.letters_pdf import GOTHIC, MINCHO, Cell, Sheet, ja_date, wareki

SENDER_JA = "地方公共団体情報システム機構（J-LIS）"
TITLE_NOTICE = "電子証明書の有効期限通知書"
TITLE_FORM = "照会書兼回答書兼委任状"


@dataclass(frozen=True)
class NoticeItem:
    kind: str  # "sign" / "auth"
    not_after: date
    serial: str


@dataclass(frozen=True)
class NoticeLetter:
    reference: str
    batch_on: date
    name: str
    address: str
    birth_date: date
    municipality: str
    prefecture: str
    card_number_tail: str
    items: tuple[NoticeItem, ...]


def _kind_ja(kind: str) -> str:
    return CertKind.parse(kind).ja


def render_expiry_notice(letter: NoticeLetter) -> bytes:
    """The two pages of one expiry notice, as PDF bytes."""
    s = Sheet(title=f"{TITLE_NOTICE} {letter.reference}",
              subject="有効期限通知書・照会書兼回答書兼委任状 (R3.4, R5.5)")
    _notice_page(s, letter)
    s.new_page()
    _form_page(s, letter)
    return s.finish()


def _address_block(s: Sheet, letter: NoticeLetter) -> None:
    s.text(25, 30, letter.address, size=11)
    s.text(25, 38, f"{letter.name}　様", size=14, font=GOTHIC)
    s.text(185, 22, f"通知番号 {letter.reference}", size=9, font=GOTHIC, align="right")
    s.text(185, 28, f"発行日 {ja_date(letter.batch_on)}", size=9, align="right")


def _notice_page(s: Sheet, letter: NoticeLetter) -> None:
    _address_block(s, letter)
    s.text(105, 60, TITLE_NOTICE, size=18, font=GOTHIC, align="center")
    y = s.wrapped(25, 74, "あなたのマイナンバーカードに搭載されている次の電子証明書は、有効期限が"
                  "近づいています。引き続き利用するには、有効期限までに更新の手続きをしてください。",
                  width=160)
    rows = [[Cell("電子証明書", 50, True), Cell("有効期限", 36, True),
             Cell("更新できる期間", 74, True)]]
    for item in letter.items:
        opens = renewal_opens_on(item.not_after)
        rows.append([Cell(_kind_ja(item.kind), 50), Cell(ja_date(item.not_after), 36),
                     Cell(f"{ja_date(opens)}から{ja_date(item.not_after)}まで", 74)])
    y = s.table(25, y + 4, rows, row_h=11, size=10)
    s.text(25, y + 6, f"カード番号（下4桁）　{letter.card_number_tail}", size=9.5)
    y += 16
    s.text(25, y, "更新の手続き", size=12, font=GOTHIC)
    y = s.wrapped(28, y + 7,
                  f"・お住まいの{letter.municipality}の窓口で、マイナンバーカードを持参のうえ"
                  "手続きしてください。手数料は無料です。", width=155, size=10)
    y = s.wrapped(28, y + 1, "・この通知書がなくても更新の手続きはできます。", width=155, size=10)
    y = s.wrapped(28, y + 1,
                  "・代理人が手続きする場合は、同封の「照会書兼回答書兼委任状」にご本人が記入し、"
                  "暗証番号欄を目隠しシールで隠したうえで、代理人の本人確認書類とともにお持ち"
                  "ください。1回の来庁で手続きできます。", width=155, size=10)
    y = s.wrapped(28, y + 1,
                  "・有効期限を過ぎた後も、窓口で新たに電子証明書の発行を受けることができます。",
                  width=155, size=10)
    y += 4
    s.text(25, y, "Notice: the electronic certificates on your My Number Card expire soon. "
           "Renew them at the municipal counter", size=8, font=GOTHIC)
    s.text(25, y + 4.5, "within the period shown; renewal is also possible without this "
           "notice. A proxy may use the enclosed form.", size=8, font=GOTHIC)
    s.line(25, 262, 185, 262, 0.3)
    s.text(25, 268, f"{SENDER_JA}　／　{letter.prefecture}{letter.municipality}", size=9)
    s.text(185, 268, "1/2", size=9, align="right")


def _form_page(s: Sheet, letter: NoticeLetter) -> None:
    s.text(105, 22, TITLE_FORM, size=17, font=GOTHIC, align="center")
    s.text(185, 30, f"通知番号 {letter.reference}", size=9, font=GOTHIC, align="right")
    s.text(25, 40, f"{letter.municipality}長　あて", size=11)
    s.text(25, 50, "【照会】", size=11, font=GOTHIC)
    kinds = "・".join(_kind_ja(i.kind) for i in letter.items)
    y = s.wrapped(28, 57, f"次の方の{kinds}の更新の申請について、ご本人の意思を確認します。"
                  "ご本人が申請したものであれば、回答欄に記入してください。", width=155, size=10)
    rows = [[Cell("氏名", 30, True), Cell(letter.name, 130)],
            [Cell("住所", 30, True), Cell(letter.address, 130)],
            [Cell("生年月日", 30, True), Cell(wareki(letter.birth_date), 130)]]
    y = s.table(25, y + 2, rows, row_h=9, size=10)
    s.text(25, y + 8, "【回答】", size=11, font=GOTHIC)
    y = s.wrapped(28, y + 15, "上記の申請は、私が申請したものに相違ありません。", width=155,
                  size=10)
    s.text(28, y + 4, "回答日　　　　年　　月　　日　　　本人署名", size=10)
    s.line(115, y + 5.5, 185, y + 5.5, 0.4)
    y += 16
    s.text(25, y, "【委任】", size=11, font=GOTHIC)
    y = s.wrapped(28, y + 7, "私は、次の者を代理人と定め、電子証明書の更新の申請及び受領に関する"
                  "権限を委任します。", width=155, size=10)
    rows = [[Cell("代理人氏名", 30, True), Cell("", 130)],
            [Cell("代理人住所", 30, True), Cell("", 130)]]
    y = s.table(25, y + 2, rows, row_h=10, size=10)
    y += 8
    s.text(25, y, "【暗証番号】（記入後、目隠しシールを貼ってください）", size=11, font=GOTHIC)
    y += 4
    pin_rows = (("署名用電子証明書の暗証番号（英大文字と数字6〜16桁）", 16),
                ("利用者証明用電子証明書の暗証番号（数字4桁）", 4),
                ("住民基本台帳用暗証番号（数字4桁）", 4))
    for label, boxes in pin_rows:
        s.text(28, y + 6, label, size=9.5)
        bx = 28
        for _ in range(boxes):
            s.box(bx, y + 8, 7, 8, width=0.5)
            bx += 7.5
        y += 20
    s.box(25, y - 2, 160, 1, width=0.1, dashed=True)
    s.wrapped(25, y + 5, "暗証番号が記入されていない、又は目隠しがされていない回答書は受け付けられ"
              "ません。暗証番号が一致しないときは、当日の交付はできません。", width=160, size=8.5,
              font=MINCHO)
    s.line(25, 262, 185, 262, 0.3)
    s.text(25, 268, f"{SENDER_JA}　／　{letter.prefecture}{letter.municipality}", size=9)
    s.text(185, 268, "2/2", size=9, align="right")
