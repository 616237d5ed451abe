"""Decisions as values: what every rule function answers.

A rule never raises to say "no". It returns one of three frozen values, each carrying the
number of the rule that decided (``"R3.2"``, as in RULES.md) and a message in Japanese and in
English, so the counter screen, the kiosk, the HTTP API and the CLI all show the same reason:

- :class:`Allowed` — the thing may be done.
- :class:`Refused` — it may not; ``opens_on``/``opens_at`` say when it can be done if that is
  known (renewal window R3.2, office hours R5.8), ``missing`` lists what the applicant has to
  bring (R5.3–R5.7).
- :class:`SecondVisit` — nothing is refused, but it cannot be finished today: the voluntary
  proxy path of R5.4 (the inquiry form is mailed to the holder, the proxy comes back with it).

``to_dict()`` gives a JSON-ready dict (dates as ISO strings) and ``to_json()`` the text; both
are shared by the CLI and the HTTP API. Exceptions (``ValueError``) are kept for input that is
not a question at all (a birth date after the issue date, an unknown PIN kind).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, ClassVar, Union

_RULE = re.compile(r"^R[1-8]\.\d{1,2}$")


def _check_rule(rule: str) -> None:
    if not isinstance(rule, str) or not _RULE.match(rule):
        raise ValueError(f"not a RULES.md rule number: {rule!r}")


class LabelledEnum(str, Enum):
    """A string enum whose value is a stable ASCII code (used in JSON and the database) and
    which also carries its Japanese and English names: ``PhotoId.PASSPORT.ja == "旅券"``."""

    ja: str
    en: str

    def __new__(cls, code: str, ja: str, en: str) -> "LabelledEnum":
        obj = str.__new__(cls, code)
        obj._value_ = code
        obj.ja = ja
        obj.en = en
        return obj

    def __str__(self) -> str:  # the code, so f-strings and JSON agree
        return self.value

    def to_dict(self) -> dict[str, str]:
        return {"item": self.value, "ja": self.ja, "en": self.en}


def _jsonable(value: Any) -> Any:
    if isinstance(value, LabelledEnum):
        return value.to_dict()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (tuple, list, frozenset, set)):
        return [_jsonable(v) for v in value]
    return value


@dataclass(frozen=True)
class Allowed:
    """The rule ``rule`` allows it."""

    rule: str
    message_ja: str = "手続きできます。"
    message_en: str = "Allowed."

    allowed: ClassVar[bool] = True
    outcome: ClassVar[str] = "allowed"

    def __post_init__(self) -> None:
        _check_rule(self.rule)

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "allowed": True, "rule": self.rule,
                "message_ja": self.message_ja, "message_en": self.message_en}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class Refused:
    """The rule ``rule`` refuses it.

    ``opens_on`` (a date) or ``opens_at`` (a JST datetime) is the first moment it can be done,
    when the refusal is only about timing; ``missing`` lists what has to be brought
    (members of :class:`~openjpki.rules.documents.Requirement` or other labelled enums)."""

    rule: str
    message_ja: str
    message_en: str
    opens_on: date | None = None
    missing: tuple[Any, ...] = ()
    opens_at: datetime | None = None

    allowed: ClassVar[bool] = False
    outcome: ClassVar[str] = "refused"

    def __post_init__(self) -> None:
        _check_rule(self.rule)
        object.__setattr__(self, "missing", tuple(self.missing))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"outcome": self.outcome, "allowed": False, "rule": self.rule,
                             "message_ja": self.message_ja, "message_en": self.message_en}
        if self.opens_on is not None:
            d["opens_on"] = self.opens_on.isoformat()
        if self.opens_at is not None:
            d["opens_at"] = self.opens_at.isoformat()
        if self.missing:
            d["missing"] = _jsonable(self.missing)
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


@dataclass(frozen=True)
class SecondVisit:
    """Not refused, but not finished today (R5.4): the municipality mails the inquiry form
    (照会書兼回答書兼委任状) to the holder by non-forwardable registered mail when
    ``mail_inquiry_form`` is true, and the proxy comes back with ``needs``."""

    rule: str
    message_ja: str
    message_en: str
    needs: tuple[Any, ...] = ()
    mail_inquiry_form: bool = True

    allowed: ClassVar[bool] = False
    outcome: ClassVar[str] = "second_visit"

    def __post_init__(self) -> None:
        _check_rule(self.rule)
        object.__setattr__(self, "needs", tuple(self.needs))

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "allowed": False, "rule": self.rule,
                "message_ja": self.message_ja, "message_en": self.message_en,
                "needs": _jsonable(self.needs), "mail_inquiry_form": self.mail_inquiry_form}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


Decision = Union[Allowed, Refused, SecondVisit]
"""What a rule function answers."""


def decision_to_dict(decision: Decision) -> dict[str, Any]:
    """The JSON-ready form of any decision (same as ``decision.to_dict()``)."""
    return decision.to_dict()
