"""Reading a posted form: each field's value, and an error beside the field (Japanese and
English) when it is missing or malformed. Nothing here decides a rule; PIN forms are
checked by ``rules.validate_pin`` (R1.3, R1.6) so the message is the rule's own."""

from __future__ import annotations

from datetime import date
from typing import Any, Iterable, Optional

from openjpki.rules import Refused, register_text_fault, validate_pin

MAX_TEXT = 200


class Form:
    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, tuple[str, str]] = {}

    # --- raw values -----------------------------------------------------------------------------
    def raw(self, name: str) -> str:
        v = self.data.get(name)
        if isinstance(v, list):
            v = v[0] if v else ""
        return v if isinstance(v, str) else ""

    def all(self, name: str) -> list[str]:
        v = self.data.get(name)
        if v is None:
            return []
        return [x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str)]

    def flag(self, name: str) -> bool:
        return self.raw(name) in ("1", "on", "true", "yes")

    @property
    def ok(self) -> bool:
        return not self.errors

    def error(self, name: str, ja: str, en: str) -> None:
        self.errors.setdefault(name, (ja, en))

    def values(self, *secret: str) -> dict[str, Any]:
        """What to fill the form with again (never the PINs or passwords)."""
        return {k: v for k, v in self.data.items() if k not in secret and k != "csrf_token"
                and "pin" not in k and "password" not in k}

    # --- typed fields ---------------------------------------------------------------------------
    def text(self, name: str, *, required: bool = True, max_len: int = MAX_TEXT,
             label: tuple[str, str] = ("", ""), register: bool = False) -> Optional[str]:
        """A text field; with ``register`` a name or address, held to what a register entry
        may hold (R1.2, :func:`openjpki.rules.register_text_fault`)."""
        v = self.raw(name).strip()
        if not v:
            if required:
                self.error(name, "入力してください。", "Required.")
            return None
        if len(v) > max_len:
            self.error(name, f"{max_len}文字以内で入力してください。",
                       f"At most {max_len} characters.")
            return None
        if any(ord(c) < 0x20 for c in v):
            self.error(name, "制御文字は使えません。", "Control characters are not allowed.")
            return None
        fault = register_text_fault(v) if register else None
        if fault is not None:
            self.error(name, fault.message_ja(), fault.message_en(name))
            return None
        return v

    def date(self, name: str, *, required: bool = True, not_after: Optional[date] = None
             ) -> Optional[date]:
        v = self.raw(name).strip()
        if not v:
            if required:
                self.error(name, "日付を入力してください（例：1980-05-15）。",
                           "Enter a date (e.g. 1980-05-15).")
            return None
        try:
            d = date.fromisoformat(v)
        except ValueError:
            self.error(name, "日付は「年-月-日」（例：1980-05-15）で入力してください。",
                       "Enter the date as YYYY-MM-DD (e.g. 1980-05-15).")
            return None
        if d.year < 1900:
            self.error(name, "1900年以降の日付を入力してください。", "Enter a date from 1900 on.")
            return None
        if not_after is not None and d > not_after:
            self.error(name, "未来の日付は入力できません。", "The date cannot be in the future.")
            return None
        return d

    def choice(self, name: str, options: Iterable[str], *, required: bool = True,
               default: Optional[str] = None) -> Optional[str]:
        v = self.raw(name).strip() or default
        opts = list(options)
        if v is None or v == "":
            if required:
                self.error(name, "選択してください。", "Choose one.")
            return None
        if v not in opts:
            self.error(name, "選択肢から選んでください。", "Choose one of the options.")
            return None
        return v

    def choices(self, name: str, options: Iterable[str]) -> list[str]:
        opts = list(options)
        got = self.all(name)
        bad = [x for x in got if x not in opts]
        if bad:
            self.error(name, "選択肢から選んでください。", "Choose among the options.")
        return [x for x in got if x in opts]

    def integer(self, name: str, *, required: bool = True, low: int = 1,
                high: int = 2 ** 31 - 1) -> Optional[int]:
        v = self.raw(name).strip()
        if not v:
            if required:
                self.error(name, "番号を入力してください。", "Enter a number.")
            return None
        if not (v.isascii() and v.isdigit()) or len(v) > 12 or not low <= int(v) <= high:
            self.error(name, "正しい番号を入力してください。", "Enter a valid number.")
            return None
        return int(v)

    def pin(self, name: str, kind: str, *, check_form: bool = True) -> Optional[str]:
        """A PIN of ``kind`` (sign, auth, card). With ``check_form`` its form is checked by
        the rules (R1.3, R1.6) and the rule's message shown beside the field."""
        v = self.raw(name)
        if not v:
            self.error(name, "暗証番号を入力してください。", "Enter the PIN.")
            return None
        if len(v) > 64:
            self.error(name, "暗証番号が長すぎます。", "The PIN is too long.")
            return None
        if check_form:
            d = validate_pin(kind, v)
            if isinstance(d, Refused):
                self.error(name, f"{d.message_ja}（{d.rule}）", f"{d.message_en} ({d.rule})")
                return None
        return v

    def same(self, name: str, other: str, value: Optional[str]) -> None:
        """The confirmation field ``other`` repeats ``name``."""
        if value is not None and self.raw(other) != value:
            self.error(other, "確認のための入力が一致しません。", "The confirmation does not match.")
