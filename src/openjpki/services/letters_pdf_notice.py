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
TITLE_CARD = "マイナンバーカードの有効期限通知書"


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
    postal_code: str | None = None
    card_expires_on: date | None = None


def _kind_ja(kind: str) -> str:
    return CertKind.parse(kind).ja


def render_expiry_notice(letter: NoticeLetter) -> bytes:
    """The two pages of one expiry notice, as PDF bytes; one page for a card whose own
    expiry is told with no certificate due (no inquiry form: nothing to renew by proxy)."""
    if not letter.items:
        return _render_card_notice(letter)
    s = Sheet(title=f"{TITLE_NOTICE} {letter.reference}",
              subject="有効期限通知書・照会書兼回答書兼委任状 (R3.4, R5.5)")
    _notice_page(s, letter)
    s.new_page()
    _form_page(s, letter)
    return s.finish()


def address_block(s: Sheet, *, postal_code: str | None, address: str, name: str,
                  reference_label: str, reference: str, issued_on: date,
                  marking: str | None = None) -> None:
    """The window-envelope address block: 〒, address, name 様; the reference and the date
    on the right; an optional delivery marking (転送不要・簡易書留) in a box."""
    if postal_code:
        s.text(25, 22, f"〒{postal_code}", size=11)
    s.text(25, 30, address, size=11)
    s.text(25, 38, f"{name}　様", size=14, font=GOTHIC)
    s.text(185, 22, f"{reference_label} {reference}", size=9, font=GOTHIC, align="right")
    s.text(185, 28, f"発行日 {wareki(issued_on)}", size=9, align="right")
    if marking:
        s.box(140, 32, 45, 9, width=0.8)
        s.text(162.5, 38, marking, size=11, font=GOTHIC, align="center")


def _address_block(s: Sheet, letter: NoticeLetter) -> None:
    address_block(s, postal_code=letter.postal_code, address=letter.address, name=letter.name,
                  reference_label="通知番号", reference=letter.reference,
                  issued_on=letter.batch_on)


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
    card_end = letter.card_expires_on
    if card_end is not None:
        rows.append([Cell("マイナンバーカード", 50), Cell(ja_date(card_end), 36),
                     Cell("カードの有効期限（電子証明書はこの日を超えて更新できません）", 74)])
    y = s.table(25, y + 4, rows, row_h=11, size=10)
    s.text(25, y + 6, f"カード番号（下4桁）　{letter.card_number_tail}", size=9.5)
    y += 16
    if card_end is not None and any(card_end <= i.not_after for i in letter.items):
        y = s.wrapped(25, y, f"マイナンバーカードの有効期限（{ja_date(card_end)}）が近づいています。"
                      "電子証明書を引き続き利用するには、カードの更新（新しいカードの交付申請）"
                      "が必要です。", width=160, size=10, font=GOTHIC)
        y += 3
    s.text(25, y, "更新の手続き", size=12, font=GOTHIC)
    y = s.wrapped(28, y + 7,
                  f"・お住まいの{letter.municipality}の窓口で、マイナンバーカードを持参のうえ"
                  "手続きしてください。手数料は無料です（カードを紛失している場合など、カードの"
                  "有料再交付とあわせて発行するときは200円）。", width=155, size=10)
    y = s.wrapped(28, y + 1, "・この通知書がなくても更新の手続きはできます。", width=155, size=10)
    y = s.wrapped(28, y + 1,
                  "・代理人が手続きする場合は、同封の「照会書兼回答書兼委任状」にご本人が記入し、"
                  "暗証番号欄を目隠しシールで隠したうえで、代理人の本人確認書類とともにお持ち"
                  "ください。1回の来庁で手続きできます。窓口では、この通知書の通知番号を"
                  "確認します。", width=155, size=10)
    y = s.wrapped(28, y + 1,
                  "・有効期限を過ぎた後も、窓口で新たに電子証明書の発行を受けることができます。",
                  width=155, size=10)
    s.wrapped(28, y + 1, "・更新の手続き後、コンビニ交付等のサービスが利用できるのは、2営業日後"
              "からとなります。", width=155, size=10)
    s.line(25, 262, 185, 262, 0.3)
    s.text(25, 268, f"{SENDER_JA}　／　{letter.prefecture}{letter.municipality}", size=9)
    s.text(185, 268, "1/2", size=9, align="right")


def _render_card_notice(letter: NoticeLetter) -> bytes:
    if letter.card_expires_on is None:
        raise ValueError("a notice with no certificate tells of the card's expiry")
    end = letter.card_expires_on
    s = Sheet(title=f"{TITLE_CARD} {letter.reference}", subject="有効期限通知書 (R3.4)")
    _address_block(s, letter)
    s.text(105, 60, TITLE_CARD, size=18, font=GOTHIC, align="center")
    y = s.wrapped(25, 74, f"あなたのマイナンバーカードは、{ja_date(end)}に有効期限を迎えます。"
                  "有効期限を過ぎたカードは、本人確認書類としても電子証明書の利用にも使えなく"
                  "なります。", width=160)
    rows = [[Cell("対象", 50, True), Cell("有効期限", 110, True)],
            [Cell("マイナンバーカード", 50), Cell(ja_date(end), 110)]]
    y = s.table(25, y + 4, rows, row_h=11, size=10)
    s.text(25, y + 6, f"カード番号（下4桁）　{letter.card_number_tail}", size=9.5)
    y += 16
    s.text(25, y, "お手続き", size=12, font=GOTHIC)
    y = s.wrapped(28, y + 7, f"・引き続きカードを利用するには、カードの更新（新しいカードの交付"
                  f"申請）が必要です。お住まいの{letter.municipality}の窓口にお問い合わせください。",
                  width=155, size=10)
    y = s.wrapped(28, y + 1, "・カードに搭載されている電子証明書は、カードの有効期限とともに"
                  "失効します。新しいカードには、電子証明書を新たに搭載することができます。",
                  width=155, size=10)
    s.wrapped(28, y + 1, "・新しいカードの電子証明書の発行手数料は無料です（カードを紛失している"
              "場合など、カードの有料再交付とあわせて発行するときは200円）。", width=155, size=10)
    s.line(25, 262, 185, 262, 0.3)
    s.text(25, 268, f"{SENDER_JA}　／　{letter.prefecture}{letter.municipality}", size=9)
    s.text(185, 268, "1/1", size=9, align="right")
    return s.finish()


def _form_page(s: Sheet, letter: NoticeLetter) -> None:
    kinds = "・".join(_kind_ja(i.kind) for i in letter.items)
    form_page(s, reference_label="通知番号", reference=letter.reference,
              municipality=letter.municipality, name=letter.name, address=letter.address,
              birth_date=letter.birth_date, request=f"{kinds}の更新",
              pins=("sign", "auth", "card") if any(i.kind == "sign" for i in letter.items)
              else ("auth", "card"),
              footer=f"{SENDER_JA}　／　{letter.prefecture}{letter.municipality}", page="2/2")


PIN_ROWS = {"sign": ("署名用電子証明書の暗証番号（英大文字と数字6〜16桁）", 16),
            "auth": ("利用者証明用電子証明書の暗証番号（数字4桁）", 4),
            "card": ("住民基本台帳用暗証番号（数字4桁）", 4)}


def form_page(s: Sheet, *, reference_label: str, reference: str, municipality: str,
              name: str, address: str, birth_date: date, request: str,
              pins: tuple[str, ...], footer: str, page: str) -> None:
    """照会書兼回答書兼委任状: the inquiry, the holder's answer, the letter of attorney and
    the PIN boxes to be hidden under a masking sticker (R5.4)."""
    s.text(105, 22, TITLE_FORM, size=17, font=GOTHIC, align="center")
    s.text(185, 30, f"{reference_label} {reference}", size=9, font=GOTHIC, align="right")
    s.text(25, 40, f"{municipality}長　あて", size=11)
    s.text(25, 50, "【照会】", size=11, font=GOTHIC)
    y = s.wrapped(28, 57, f"次の方の{request}の申請について、ご本人の意思を確認します。"
                  "ご本人が申請したものであれば、回答欄に記入してください。", width=155, size=10)
    rows = [[Cell("氏名", 30, True), Cell(name, 130)],
            [Cell("住所", 30, True), Cell(address, 130)],
            [Cell("生年月日", 30, True), Cell(wareki(birth_date), 130)]]
    y = s.table(25, y + 2, rows, row_h=9, size=10)
    s.text(25, y + 8, "【回答】", size=11, font=GOTHIC)
    y = s.wrapped(28, y + 15, "上記の申請は、私が申請したものに相違ありません。", width=155,
                  size=10)
    s.text(28, y + 4, "回答日　　　　年　　月　　日　　　本人署名", size=10)
    s.line(115, y + 5.5, 185, y + 5.5, 0.4)
    y += 16
    s.text(25, y, "【委任】", size=11, font=GOTHIC)
    y = s.wrapped(28, y + 7, "私は、次の者を代理人と定め、電子証明書の申請及び受領に関する"
                  "権限を委任します。", width=155, size=10)
    rows = [[Cell("代理人氏名", 30, True), Cell("", 130)],
            [Cell("代理人住所", 30, True), Cell("", 130)]]
    y = s.table(25, y + 2, rows, row_h=10, size=10)
    y += 8
    s.text(25, y, "【暗証番号】（記入後、必ず目隠しシールを貼ってください）", size=11, font=GOTHIC)
    y += 4
    for kind in pins:
        label, boxes = PIN_ROWS[kind]
        s.text(28, y + 6, label, size=9.5)
        bx = 28
        for _ in range(boxes):
            s.box(bx, y + 8, 7, 8, width=0.5)
            bx += 7.5
        y += 20
    s.box(25, y - 2, 160, 1, width=0.1, dashed=True)
    s.wrapped(25, y + 5, "回答書欄・委任状欄はもれなく記入し、暗証番号記載欄には必ず目隠しシールを"
              "貼付するか、この用紙を封筒に封入して封かんした状態で代理人にお渡しください。記載に"
              "不備があると受付できません。暗証番号が照合できない場合は、即日発行は行えず、"
              "文書照会により再度来庁いただくことになります。", width=160, size=8.5, font=MINCHO)
    s.line(25, 262, 185, 262, 0.3)
    s.text(25, 268, footer, size=9)
    s.text(185, 268, page, size=9, align="right")
