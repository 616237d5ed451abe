"""Every letter the municipality prints — the inquiry of a voluntary proxy's first visit
(照会書兼回答書兼委任状, R5.4), the expiry notice with its form (R3.4, R5.5 a) and the
certificate of residence (住民票の写し, R7.1) — rendered to PNG by poppler's pdftoppm (kept
under test-artifacts/letters/) and read back through its text layer with pypdf: the holder's
facts and the reference are there, and no stray Latin text is."""

from __future__ import annotations

import io
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader

from openjpki.rules.documents import PhotoId, PresentedId
from openjpki.services.counter import (
    ApplicantInput, CounterRequest, InquiryMailed, PinEntry, ResidentInput, add_resident, apply,
)
from openjpki.services.letters_pdf_juminhyo import ResidenceFacts, render_residence_certificate
from openjpki.services.letters_pdf_notice import NoticeItem, NoticeLetter, render_expiry_notice
from openjpki.services.letters_print import letter_pdf

from .citizenkit import PINS, T0
from pages.latin import stray_latin  # one checker for the pages and the letters

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "letters"
NAME, ADDRESS, POSTAL = "川口　花子", "埼玉県川口市青木二丁目1番1号", "332-8601"


def text_layer(pdf: bytes, tmp_path: Path, name: str) -> str:
    """pypdf's text of every page, white space removed; the pages as PNG artifacts."""
    path = tmp_path / f"{name}.pdf"
    path.write_bytes(pdf)
    if shutil.which("pdftoppm"):
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pdftoppm", "-r", "80", "-png", str(path), str(ARTIFACTS / name)],
                       check=True, capture_output=True)
        assert sorted(ARTIFACTS.glob(f"{name}-*.png")), "pdftoppm made no page"
    reader = PdfReader(str(path))
    return "".join("".join(p.extract_text().split()) for p in reader.pages)


def assert_clean(text: str) -> None:
    assert stray_latin(text, rules_allowed=False) == [], stray_latin(text, rules_allowed=False)


def test_R5_4_the_visit_1_inquiry_letter(ctx, tmp_path):
    rid = add_resident(ctx, ResidentInput(name=NAME, address=ADDRESS, postal_code=POSTAL,
                                          birth_date=date(1980, 5, 15), sex="female"), T0)["id"]
    issued = apply(ctx, CounterRequest("new_issuance", rid, new_card=True),
                   PinEntry(card=PINS.card, sign=PINS.sign, auth=PINS.auth), now=T0)
    assert issued.outcome == "completed", issued
    licence = PresentedId(PhotoId.DRIVERS_LICENCE, valid_until=date(2030, 1, 1))
    out = apply(ctx, CounterRequest("pin_reset", rid, kinds=("sign",), applicant=ApplicantInput(
        type="voluntary_proxy", ids=(licence,))), now=T0)
    assert isinstance(out, InquiryMailed), out
    name, pdf = letter_pdf(ctx, out.letter_id, T0)
    assert name == f"{out.reference}.pdf"
    assert letter_pdf(ctx, out.letter_id, T0)[1] == pdf  # a reprint is the same letter
    text = text_layer(pdf, tmp_path, "inquiry")
    for expected in ("照会書兼回答書兼委任状", "転送不要", "簡易書留", f"〒{POSTAL}", "".join(NAME.split()),
                     ADDRESS, "昭和55年5月15日", out.reference, "目隠しシール",
                     "署名用電子証明書の暗証番号", "住民基本台帳用暗証番号", "暗証番号の初期化",
                     "令和7年4月1日"):
        assert expected in text, expected
    assert "利用者証明用電子証明書の暗証番号" not in text  # only the PINs this reset needs
    assert_clean(text)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 2


def test_R3_4_the_expiry_notice_tells_of_the_card_too(tmp_path):
    letter = NoticeLetter(
        reference="EXP-ABCD-EFGH-JKLM", batch_on=date(2029, 2, 16), name=NAME,
        address=ADDRESS, birth_date=date(1980, 5, 15), municipality="川口市",
        prefecture="埼玉県", card_number_tail="1234", postal_code=POSTAL,
        card_expires_on=date(2029, 5, 15),
        items=(NoticeItem("sign", date(2029, 5, 15), "01"),
               NoticeItem("auth", date(2029, 5, 15), "02")))
    text = text_layer(render_expiry_notice(letter), tmp_path, "expiry-notice")
    for expected in ("電子証明書の有効期限通知書", f"〒{POSTAL}", "".join(NAME.split()), ADDRESS,
                     letter.reference, "2029年5月15日", "2029年2月16日から2029年5月15日まで",
                     "マイナンバーカード", "カードの更新", "200円", "2営業日後",
                     "照会書兼回答書兼委任状", "目隠しシール", "J-LIS"):
        assert expected in text, expected
    assert_clean(text)


def test_R7_1_the_certificate_of_residence(tmp_path):
    facts = ResidenceFacts(
        reference="JMH-ABCD-EFGH", issued_on=date(2025, 4, 1), name=NAME,
        name_kana="かわぐち　はなこ", birth_date=date(1980, 5, 15), sex=2, address=ADDRESS,
        household_head=NAME, relationship="head", registered_on=date(2010, 4, 1),
        address_changed_on=None, former_surname=None, alias=None, prefecture="埼玉県",
        municipality="川口市", kiosk_id="konbini-0001")
    text = text_layer(render_residence_certificate(facts), tmp_path, "juminhyo")
    for expected in ("住民票の写し", "".join(NAME.split()), ADDRESS, "昭和55年5月15日", "世帯主",
                     facts.reference, "川口市長"):
        assert expected in text, expected
    assert_clean(text)


@pytest.fixture(autouse=True, scope="module")
def _fresh_artifacts():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    yield
