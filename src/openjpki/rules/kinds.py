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
