"""Residents on the register: add, show, list (the clerk's look-ups, and the demo's seeding).

Changes of the basic four facts are register events (:mod:`openjpki.services.register`),
because they revoke SIGN (R4.1); this module only creates people and reads them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from openjpki.rules import register_text_problem
from openjpki.rules.individual_number import synthetic as synthetic_individual_number
from openjpki.services.audit import record
from openjpki.services.counter.context import CounterContext
from openjpki.store.counter_models import Card
from openjpki.store.residents import Resident, get_resident, list_residents
from sqlalchemy import select


class InputError(ValueError):
    """Input that is not a question at all (unknown id, impossible date …): the CLI prints it
    and exits 2, the API answers 400/404. Refusals by a rule are values, never this."""


class NotFound(InputError):
    pass


SEX_NAMES = {"male": 1, "female": 2, "unknown": 3, "1": 1, "2": 2, "3": 3, "m": 1, "f": 2}


def parse_sex(value: "int | str") -> int:
    """1/2/3 or male/female/unknown (as SIGN certificates encode it)."""
    code = SEX_NAMES.get(str(value).strip().lower())
    if code is None:
        raise InputError(f"sex must be male, female or unknown (1, 2, 3), not {value!r}")
    return code


@dataclass(frozen=True)
class ResidentInput:
    """A person entered on the register (転入 of someone new, birth, or seeding)."""

    name: str
    address: str
    birth_date: date
    sex: int | str
    name_kana: str | None = None
    former_surname: str | None = None
    alias: str | None = None
    household_id: str | None = None
    relationship: str = "head"
    honseki_here: bool = False
    adult_ward: bool = False
    foreign_resident: bool = False
    stay_until: date | None = None
    postal_code: str | None = None
    municipality_code: str | None = None
    prefecture: str | None = None
    municipality: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _check_text(what: str, value: str | None, bound: int, required: bool = True) -> None:
    if value is None:
        if required:
            raise InputError(f"{what} is required")
        return
    if not isinstance(value, str) or (required and not value.strip()):
        raise InputError(f"{what} must be a non-empty text")
    if len(value) > bound:
        raise InputError(f"{what} is longer than {bound} characters")
    problem = register_text_problem(what, value)
    if problem is not None:
        raise InputError(problem)


def validate_resident_input(data: ResidentInput, today: date) -> int:
    _check_text("name", data.name, 200)
    _check_text("address", data.address, 200)
    _check_text("name_kana", data.name_kana, 200, required=False)
    _check_text("former_surname", data.former_surname, 100, required=False)
    _check_text("alias", data.alias, 200, required=False)
    if not isinstance(data.birth_date, date) or data.birth_date > today:
        raise InputError("birth_date must be a date not in the future")
    if data.stay_until is not None and not data.foreign_resident:
        raise InputError("a period of stay is only for a foreign resident")
    if data.postal_code is not None:
        parse_postal_code(data.postal_code)
    return parse_sex(data.sex)


def parse_postal_code(value: str) -> str:
    """郵便番号 as NNN-NNNN (given with or without the hyphen, in ASCII digits)."""
    digits = value.strip().replace("-", "").replace("〒", "")
    if not (len(digits) == 7 and digits.isascii() and digits.isdigit()):
        raise InputError(f"a postal code is 7 digits (NNN-NNNN), not {value!r}")
    return f"{digits[:3]}-{digits[3:]}"


def add_resident(ctx: CounterContext, data: ResidentInput, now: datetime) -> dict:
    """Enter a person on this municipality's register; returns :func:`resident_dict`."""
    with ctx.store.transaction() as s:
        r = add_resident_in(s, ctx, data, now)
        return resident_dict(r)


def add_resident_in(s: Session, ctx: CounterContext, data: ResidentInput,
                    now: datetime) -> Resident:
    sex = validate_resident_input(data, ctx.today(now))
    m = ctx.municipality
    r = Resident(
        name=data.name, name_kana=data.name_kana, address=data.address,
        postal_code=parse_postal_code(data.postal_code) if data.postal_code else None,
        birth_date=data.birth_date, sex=sex, former_surname=data.former_surname,
        alias=data.alias, household_id=data.household_id or "H" + secrets.token_hex(6),
        relationship=data.relationship, honseki_here=data.honseki_here,
        adult_ward=data.adult_ward, foreign_resident=data.foreign_resident,
        stay_until=data.stay_until,
        municipality_code=data.municipality_code or m.code,
        prefecture=data.prefecture or m.prefecture,
        municipality=data.municipality or m.name,
        on_register=True, registered_at=now, updated_at=now,
        individual_number=new_individual_number(s))
    s.add(r)
    s.flush()
    record(s, "register.add", now, actor=ctx.actor, subject=f"resident:{r.id}",
           household_id=r.household_id, relationship=r.relationship)
    return r


def new_individual_number(s: Session) -> str:
    """A synthetic individual number not yet in the register (the unique index is the last
    word: two concurrent registrations drawing the same number cannot both commit)."""
    while True:
        number = synthetic_individual_number()
        taken = s.execute(select(Resident.id).where(
            Resident.individual_number == number)).first()
        if taken is None:
            return number


def require_resident(s: Session, resident_id: int, *, for_update: bool = False) -> Resident:
    r = get_resident(s, int(resident_id), for_update=for_update)
    if r is None:
        raise NotFound(f"no resident {resident_id}")
    return r


def show_resident(ctx: CounterContext, resident_id: int) -> dict:
    """The resident with their cards and the certificates on them."""
    from openjpki.services.counter.queries import card_dict

    with ctx.store.transaction() as s:
        r = require_resident(s, resident_id)
        out = resident_dict(r)
        cards = s.execute(select(Card).where(Card.resident_id == r.id)
                          .order_by(Card.id)).scalars()
        out["cards"] = [card_dict(s, c) for c in cards]
        return out


def find_residents(ctx: CounterContext, *, name: str | None = None,
                   on_register: bool | None = None, limit: int = 100) -> list[dict]:
    with ctx.store.transaction() as s:
        return [resident_dict(r) for r in list_residents(
            s, name_contains=name, on_register=on_register, limit=limit)]


def resident_dict(r: Resident) -> dict:
    return {
        "id": r.id, "individual_number": r.individual_number, "name": r.name,
        "name_kana": r.name_kana, "address": r.address, "postal_code": r.postal_code,
        "birth_date": r.birth_date.isoformat(), "sex": r.sex,
        "former_surname": r.former_surname, "alias": r.alias,
        "household_id": r.household_id, "relationship": r.relationship,
        "honseki_here": r.honseki_here, "adult_ward": r.adult_ward,
        "foreign_resident": r.foreign_resident,
        "stay_until": r.stay_until.isoformat() if r.stay_until else None,
        "municipality_code": r.municipality_code, "prefecture": r.prefecture,
        "municipality": r.municipality, "on_register": r.on_register,
    }
