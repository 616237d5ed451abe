"""R1.1, R1.2: the two certificates, what they are for and what they carry."""

import pytest

from openjpki.rules import CertKind, Fact, PinKind, certificate_facts, certificate_purpose


@pytest.mark.parametrize("kind,word", [("sign", "e-Tax"), ("auth", "マイナポータル")])
def test_R1_1_purpose(kind, word):
    ja, en = certificate_purpose(kind)
    assert word in ja and en


@pytest.mark.parametrize("kind,common,old,expected", [
    ("sign", False, False, ("name", "address", "birth_date", "sex")),
    ("sign", True, True, ("name", "address", "birth_date", "sex", "common_name", "old_surname")),
    ("auth", True, True, ()),
])
def test_R1_2_content(kind, common, old, expected):
    got = certificate_facts(kind, common_name=common, old_surname=old)
    assert tuple(f.value for f in got) == expected


def test_kinds_parse():
    assert CertKind.parse("SIGN") is CertKind.SIGN
    assert PinKind.parse(CertKind.AUTH) is PinKind.AUTH
    assert PinKind.CARD.cert_kind is None and PinKind.SIGN.cert_kind is CertKind.SIGN
    assert str(CertKind.SIGN) == "sign" and Fact.NAME.ja == "氏名"
    with pytest.raises(ValueError):
        CertKind.parse("card")
