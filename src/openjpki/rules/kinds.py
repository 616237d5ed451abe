"""The two certificates and the three PINs (RULES.md §1)."""

from __future__ import annotations

from openjpki.rules.decision import LabelledEnum


class CertKind(LabelledEnum):
    """R1.1: the two electronic certificates on the My Number Card."""

    SIGN = ("sign", "署名用電子証明書", "signature certificate")
    AUTH = ("auth", "利用者証明用電子証明書", "user authentication certificate")

    @classmethod
    def parse(cls, value: "str | CertKind") -> "CertKind":
        """``"sign"``/``"auth"`` (any case) or a member; ``ValueError`` otherwise."""
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"unknown certificate kind {value!r} (sign or auth)") from None


class PinKind(LabelledEnum):
    """R1.3, R1.6: the PIN of each certificate, and the card's resident-registry PIN."""

    SIGN = ("sign", "署名用電子証明書の暗証番号", "signature PIN")
    AUTH = ("auth", "利用者証明用電子証明書の暗証番号", "user authentication PIN")
    CARD = ("card", "住民基本台帳用暗証番号", "resident-registry PIN")

    @classmethod
    def parse(cls, value: "str | PinKind | CertKind") -> "PinKind":
        """``"sign"``/``"auth"``/``"card"`` (any case), a member, or a :class:`CertKind`."""
        if isinstance(value, cls):
            return value
        if isinstance(value, CertKind):
            return cls(value.value)
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            raise ValueError(f"unknown PIN kind {value!r} (sign, auth or card)") from None

    @property
    def cert_kind(self) -> CertKind | None:
        """The certificate this PIN protects (``None`` for the card PIN)."""
        return None if self is PinKind.CARD else CertKind(self.value)


_PURPOSES = {
    CertKind.SIGN: ("e-Tax・オンライン申請・民間のオンライン取引などで電子文書に署名する。"
                    "「作成・送信した電子文書が、あなたが作成した真正なものであり、あなたが送信した"
                    "ものであること」を証明する。",
                    "Signs electronic documents (e-Tax, online applications, private online "
                    "transactions): proves the document was made and sent by you."),
    CertKind.AUTH: ("マイナポータル・オンラインバンキング・コンビニ交付・キオスク端末などへの"
                    "ログイン。「ログイン等した者があなたであること」を証明する。",
                    "Logs in (マイナポータル, online banking, convenience-store issuance, "
                    "kiosks): proves the one logging in is you."),
}


def certificate_purpose(kind: "CertKind | str") -> tuple[str, str]:
    """R1.1: what a certificate of ``kind`` is for (Japanese, English)."""
    return _PURPOSES[CertKind.parse(kind)]


class Fact(LabelledEnum):
    """R1.2: the personal facts a certificate may carry."""

    NAME = ("name", "氏名", "name")
    ADDRESS = ("address", "住所", "address")
    BIRTH_DATE = ("birth_date", "生年月日", "date of birth")
    SEX = ("sex", "性別", "sex")
    COMMON_NAME = ("common_name", "通称", "common name (foreign resident)")
    OLD_SURNAME = ("old_surname", "旧氏", "former surname")


BASIC_FOUR_FACTS = (Fact.NAME, Fact.ADDRESS, Fact.BIRTH_DATE, Fact.SEX)
"""基本4情報."""


def certificate_facts(kind: "CertKind | str", *, common_name: bool = False,
                      old_surname: bool = False) -> tuple[Fact, ...]:
    """R1.2: the facts a certificate of ``kind`` carries: SIGN the basic four facts, plus a
    foreign resident's registered 通称 and a registered 旧氏; AUTH none."""
    if CertKind.parse(kind) is CertKind.AUTH:
        return ()
    extra = ((Fact.COMMON_NAME,) if common_name else ()) + (
        (Fact.OLD_SURNAME,) if old_surname else ())
    return BASIC_FOUR_FACTS + extra
