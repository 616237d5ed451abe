"""The resident register (住民基本台帳) of the municipality, as far as JPKI needs it.

One row per person ever registered here; ``on_register`` is false once they moved out or
died (R5.2: procedures need a person on this municipality's register). The basic four facts
(基本4情報, R1.2) are ``name``, ``address``, ``birth_date`` and ``sex`` (1 male, 2 female,
3 unknown, as SIGN certificates encode it); a SIGN certificate carries them, so changing one
revokes SIGN (R4.1, see :mod:`openjpki.services.register`).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Optional

from sqlalchemy import Boolean, CheckConstraint, Date, Integer, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from openjpki.store.models import Base, UTCDateTime

SEX_CODES = (1, 2, 3)


class Resident(Base):
    __tablename__ = "residents"
    __table_args__ = (CheckConstraint("sex IN (1, 2, 3)", name="sex"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # 個人番号: a synthetic 12-digit number with its check digit, unique in the register
    # (openjpki.rules.individual_number); the card's 券面事項入力補助AP carries it.
    individual_number: Mapped[Optional[str]] = mapped_column(String(12), unique=True,
                                                             index=True, nullable=True)
    # 基本4情報 (R1.2). name: surname, U+3000, given name.
    name: Mapped[str] = mapped_column(String(200))
    name_kana: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    address: Mapped[str] = mapped_column(String(200))
    # 郵便番号 of the address (NNN-NNNN), printed above it on mailed letters.
    postal_code: Mapped[Optional[str]] = mapped_column(String(8), nullable=True)
    # The day the current address was registered (転入/転居): R5.5 b asks whether a move was
    # filed the same day.
    address_changed_on: Mapped[Optional[date]] = mapped_column(Date, nullable=True)
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[int] = mapped_column(Integer)
    # 旧氏 (former surname, registered on request) and 通称 (a foreign resident's alias).
    former_surname: Mapped[Optional[str]] = mapped_column(String(100), nullable=True)
    alias: Mapped[Optional[str]] = mapped_column(String(200), nullable=True)
    # Household (世帯): its id and this person's relationship to the head (世帯主との続柄),
    # "head" for the head. R5.3: a parent heading the holder's household needs no 戸籍 proof.
    household_id: Mapped[str] = mapped_column(String(32), index=True)
    relationship: Mapped[str] = mapped_column(String(32), default="head")
    # R5.3: 本籍 in this municipality (the representative's authority is checked here).
    honseki_here: Mapped[bool] = mapped_column(Boolean, default=False)
    # R1.5/R5.6: adult ward (成年被後見人).
    adult_ward: Mapped[bool] = mapped_column(Boolean, default=False)
    # R2.3: a foreign resident's period of stay ends on stay_until (None: no set period).
    foreign_resident: Mapped[bool] = mapped_column(Boolean, default=False)
    stay_until: Mapped[Optional[date]] = mapped_column(Date, nullable=True)
    # The municipality (its JIS code, prefecture and name: SIGN subject and CRL partition).
    municipality_code: Mapped[str] = mapped_column(String(6))
    prefecture: Mapped[str] = mapped_column(String(20))
    municipality: Mapped[str] = mapped_column(String(60))
    on_register: Mapped[bool] = mapped_column(Boolean, default=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


def get_resident(session: Session, resident_id: int, *, for_update: bool = False
                 ) -> Resident | None:
    stmt = select(Resident).where(Resident.id == resident_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.execute(stmt).scalar_one_or_none()


def list_residents(session: Session, *, on_register: bool | None = None,
                   name_contains: str | None = None, household_id: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[Resident]:
    stmt = select(Resident).order_by(Resident.id).limit(limit).offset(offset)
    if on_register is not None:
        stmt = stmt.where(Resident.on_register == on_register)
    if name_contains:
        stmt = stmt.where(Resident.name.contains(name_contains, autoescape=True))
    if household_id:
        stmt = stmt.where(Resident.household_id == household_id)
    return list(session.execute(stmt).scalars())


def household_members(session: Session, household_id: str) -> list[Resident]:
    return list(session.execute(
        select(Resident).where(Resident.household_id == household_id,
                               Resident.on_register.is_(True)).order_by(Resident.id)
    ).scalars())


def count_residents(session: Session) -> int:
    return session.execute(select(func.count()).select_from(Resident)).scalar_one()
