"""The basic four facts in SIGN certificates (PROFILES.md "SIGN subjectAltName otherNames")."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from hypothesis import example, given, settings
from hypothesis import strategies as st

from openjpki.pki import Kind, SignFacts, read_sign_facts
from openjpki.pki.facts import (
    ADDRESS_MAX,
    SAN_ORDER,
    decode_birth,
    encode_birth,
    substitution_flags,
)

from .helpers import NOW

RARE = "𠮷髙﨑邉齋󠄀鷗隆琢德"  # outside JIS X 0208, or variants of characters in it
COMMON = "山田太郎花子佐藤鈴木東京都千代田区霞が関一丁目番地号あいうアイウ－ー１２３ABC"


@pytest.mark.parametrize("day,encoded", [
    (date(1868, 1, 25), "118680125"),  # Meiji 1-1-1 (Gregorian)
    (date(1912, 7, 29), "119120729"),  # last day of Meiji
    (date(1912, 7, 30), "219120730"),  # Taishō from 30 July 1912
    (date(1926, 12, 24), "219261224"),
    (date(1926, 12, 25), "319261225"),  # Shōwa from 25 December 1926
    (date(1989, 1, 7), "319890107"),  # last day of Shōwa
    (date(1989, 1, 8), "419890108"),  # Heisei from 8 January 1989
    (date(2019, 4, 30), "420190430"),  # last day of Heisei
    (date(2019, 5, 1), "520190501"),  # Reiwa from 1 May 2019
    (None, "000000000"),  # unknown
])
def test_birth_date_is_era_coded(day, encoded):
    assert encode_birth(day) == encoded
    assert decode_birth(encoded) == day


def test_birth_date_before_meiji_is_refused():
    with pytest.raises(ValueError, match="before the Meiji era"):
        encode_birth(date(1868, 1, 24))
    with pytest.raises(ValueError):
        decode_birth("4198901")


@pytest.mark.parametrize("text,flags", [
    ("山田\u3000太郎", "00000"),
    ("髙橋\u3000𠮷男", "10010"),  # 髙 (IBM extension) and 𠮷 (beyond the BMP) are substituted
    ("渡邉\u3000﨑子", "00010"),  # 邉 is JIS X 0208 level 2; 﨑 is not
    ("ＳＭＩＴＨ\u3000ＪＯＨＮ", "0000000000"),
    ("Müller", "010000"),
    ("東京都千代田区１－２－３", "000000000000"),  # cp932's － is JIS X 0208's minus
])
def test_substitution_flags_mark_characters_outside_the_card_set(text, flags):
    assert substitution_flags(text) == flags


def test_sign_certificate_carries_the_facts_in_the_real_order(issue):
    facts = SignFacts(name="髙橋\u3000𠮷男", address="東京都千代田区霞が関１－２－３", birth_date=date(1950, 2, 3), sex=2)
    cert = issue(Kind.SIGN, facts=facts)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [n.type_id.dotted_string for n in san] == list(SAN_ORDER)
    assert [o[-1] for o in SAN_ORDER] == ["1", "4", "3", "5", "2", "6"]
    got = read_sign_facts(cert)
    assert got == facts
    assert (got.name, got.address, got.birth_date, got.sex) == (facts.name, facts.address, facts.birth_date, 2)
    assert got.name_substituted == "10010"
    assert got.address_substituted == "0" * len(facts.address)


def test_address_longer_than_200_characters_is_refused():
    SignFacts(name="山田\u3000太郎", address="東" * ADDRESS_MAX, birth_date=None, sex=3)
    with pytest.raises(ValueError, match="at most 200"):
        SignFacts(name="山田\u3000太郎", address="東" * (ADDRESS_MAX + 1), birth_date=None, sex=3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(name=""), "name"),
    (dict(address=""), "address"),
    (dict(sex=0), "sex"),
    (dict(sex=4), "sex"),
    (dict(sex=True), "sex"),
    (dict(name="山田\n太郎"), "control"),
    (dict(birth_date="1989-01-08"), "birth_date"),
])
def test_facts_the_certificate_cannot_carry_are_refused(kwargs, match):
    base = dict(name="山田\u3000太郎", address="東京都千代田区", birth_date=date(1989, 1, 8), sex=1)
    with pytest.raises(ValueError, match=match):
        SignFacts(**{**base, **kwargs})


def test_read_sign_facts_refuses_an_auth_certificate(issue):
    with pytest.raises(ValueError, match="not a SIGN certificate"):
        read_sign_facts(issue(Kind.AUTH))


def test_read_sign_facts_reads_a_certificate_made_elsewhere(keys):
    """Any SIGN certificate, e.g. a real one with a substitute character in .1 and the
    otherNames in another order: read back as the certificate says."""

    def other(n: int, text: str) -> x509.OtherName:
        raw = text.encode()
        return x509.OtherName(x509.ObjectIdentifier(f"1.2.392.200149.8.5.5.{n}"), b"\x0c" + bytes([len(raw)]) + raw)

    names = [other(5, "東京都千代田区"), other(1, "〓橋\u3000太郎"), other(2, "10000"), other(3, "1"),
             other(4, "000000000"), other(6, "0000000")]
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "elsewhere")])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(keys[3].public_key())
        .serial_number(1).not_valid_before(NOW).not_valid_after(datetime(2030, 1, 1, tzinfo=timezone.utc))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(keys[3], hashes.SHA256())
    )
    facts = read_sign_facts(cert)
    assert facts == SignFacts(name="〓橋\u3000太郎", address="東京都千代田区", birth_date=None, sex=1)
    assert facts.name_substituted == "10000"


name_part = st.text(alphabet=st.sampled_from(RARE + COMMON) | st.characters(
    codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=12)
birth = st.none() | st.dates(min_value=date(1868, 1, 25), max_value=date(2099, 12, 31)) | st.sampled_from(
    [date(1989, 1, 7), date(1989, 1, 8), date(2019, 4, 30), date(2019, 5, 1), date(1912, 7, 30), date(1926, 12, 25)])
address = st.text(alphabet=st.sampled_from(RARE + COMMON) | st.characters(
    codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=ADDRESS_MAX)


@settings(max_examples=120, deadline=None)
@given(surname=name_part, given_name=name_part, address=address, birth_date=birth, sex=st.sampled_from([1, 2, 3]))
@example(surname="𠮷田", given_name="髙﨑", address="東" * ADDRESS_MAX, birth_date=date(1989, 1, 7), sex=3)
@example(surname="齋藤", given_name="德", address="大阪府大阪市北区１－１", birth_date=None, sex=2)
def test_facts_written_into_a_sign_certificate_read_back_identical(issue, surname, given_name, address, birth_date, sex):
    facts = SignFacts(name=f"{surname}\u3000{given_name}", address=address, birth_date=birth_date, sex=sex)
    got = read_sign_facts(issue(Kind.SIGN, facts=facts))
    assert got == facts
    assert got.name_substituted == substitution_flags(facts.name)
    assert len(got.name_substituted) == len(facts.name)
    assert got.address_substituted == substitution_flags(facts.address)
