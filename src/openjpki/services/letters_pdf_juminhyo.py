"""The certificate of residence (住民票の写し) a convenience-store kiosk prints (R7.1).

It carries the person's register facts as the resident register holds them: name (and its
reading), date of birth, sex, address, the household head and the relationship to them, the
day the person was entered and the day the address was registered, 旧氏 and 通称 where
registered. The certification sentence, the issuing mayor, the issue number and the kiosk
are printed at the foot, as on a real コンビニ交付 copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from openjpki.labels import label
from openjpki.services.letters_pdf import GOTHIC, SEX_JA, Cell, Sheet, ja_date, wareki

TITLE = "住民票の写し"



@dataclass(frozen=True)
class ResidenceFacts:
    reference: str
    issued_on: date
    name: str
    name_kana: str | None
    birth_date: date
    sex: int
    address: str
    household_head: str
    relationship: str
    registered_on: date
    address_changed_on: date | None
    former_surname: str | None
    alias: str | None
    prefecture: str
    municipality: str
    kiosk_id: str


def relationship_ja(code: str) -> str:
    return label("relation", code)


def render_residence_certificate(f: ResidenceFacts) -> bytes:
    """One page, as PDF bytes."""
    s = Sheet(title=f"{TITLE} {f.reference}", subject="住民票の写し（コンビニ交付, R7.1）")
    s.text(105, 25, TITLE, size=20, font=GOTHIC, align="center")
    s.text(185, 33, f"発行番号 {f.reference}", size=9, font=GOTHIC, align="right")
    rows = [
        [Cell("住所", 35, True), Cell(f.address, 125)],
        [Cell("世帯主", 35, True), Cell(f.household_head, 125)],
        [Cell("氏名", 35, True), Cell(f.name, 125)],
        [Cell("氏名のふりがな", 35, True), Cell(f.name_kana or "", 125)],
    ]
    if f.former_surname:
        rows.append([Cell("旧氏", 35, True), Cell(f.former_surname, 125)])
    if f.alias:
        rows.append([Cell("通称", 35, True), Cell(f.alias, 125)])
    rows += [
        [Cell("生年月日", 35, True), Cell(wareki(f.birth_date), 60), Cell("性別", 25, True),
         Cell(SEX_JA.get(f.sex, ""), 40)],
        [Cell("続柄", 35, True), Cell(relationship_ja(f.relationship), 125)],
        [Cell("住民となった日", 35, True), Cell(wareki(f.registered_on), 125)],
        [Cell("住所を定めた日", 35, True),
         Cell(wareki(f.address_changed_on or f.registered_on), 125)],
    ]
    y = s.table(25, 42, rows, row_h=11, size=10.5)
    s.text(25, y + 6, "以下余白", size=9)
    y += 22
    s.text(25, y, "この写しは、住民票の原本と相違ないことを証明する。", size=11)
    s.text(25, y + 10, wareki(f.issued_on), size=11)
    s.text(120, y + 20, f"{f.prefecture}{f.municipality}長", size=13, font=GOTHIC)
    s.seal(160, y + 10, f"{f.municipality}長之印")
    s.line(25, 255, 185, 255, 0.3)
    s.text(25, 261, f"コンビニ交付（キオスク端末 {f.kiosk_id}）　交付日 {ja_date(f.issued_on)}",
           size=8.5)
    s.text(25, 266, "利用者証明用電子証明書による本人確認の後、コンビニエンスストアのキオスク端末で"
           "交付したものです。", size=7.5, font=GOTHIC)
    return s.finish()
