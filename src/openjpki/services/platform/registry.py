"""The platform's register of persons per service provider, and the links of their
certificates (紐付け): what registration, log-in and replacement read and change.

Every change is one transaction whose unique constraints decide a race: two registrations of
the same holder (or certificate) at one provider cannot both be made (the loser is a 409),
two log-ins linking the same new AUTH certificate leave one link.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Optional

from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from openjpki.rules import JST
from openjpki.services.platform.answers import Identity, PlatformError
from openjpki.services.relying_party_core import Checked, find_linked
from openjpki.store import Store
from openjpki.store.platform import PlatformCertificate, PlatformRegistration


@dataclass(frozen=True)
class Registered:
    """A registration as an answer needs it, with the SIGN certificate it holds now."""

    id: int
    applicant_id: str
    identity: Identity
    sign_der: Optional[bytes]


def facts_of(checked: Checked) -> dict:
    f = checked.result.facts
    if f is None:  # a good SIGN result always carries them (R1.2); never trust otherwise
        raise PlatformError(401, "クライアント認証失敗: the SIGN certificate carries no basic facts")
    return {"name": f.name, "address": f.address,
            "date_of_birth": f.birth_date.isoformat() if f.birth_date else "", "gender": str(f.sex)}


def _der(checked: Checked) -> bytes:
    cert = checked.result.certificate
    assert cert is not None
    return cert.public_bytes(Encoding.DER)


def _view(s: Session, reg: PlatformRegistration) -> Registered:
    der = s.execute(select(PlatformCertificate.der).where(and_(
        PlatformCertificate.registration_id == reg.id, PlatformCertificate.kind == "sign",
        PlatformCertificate.current.is_(True)))).scalar()
    return _registered(reg, der)


def _registered(reg: PlatformRegistration, sign_der: Optional[bytes]) -> Registered:
    identity = Identity(reg.tis_user_id, reg.name, reg.date_of_birth, reg.gender, reg.address)
    return Registered(reg.id, reg.applicant_id, identity, bytes(sign_der) if sign_der is not None else None)


def _applicant_id(now: datetime) -> str:
    return "JPKI" + now.astimezone(JST).strftime("%Y%m%d") + uuid.uuid4().hex


def _by_certificate(s: Session, provider_id: int, serial: str) -> Optional[PlatformCertificate]:
    return s.execute(select(PlatformCertificate).where(and_(
        PlatformCertificate.provider_id == provider_id, PlatformCertificate.serial == serial))).scalar_one_or_none()


def _by_holder(s: Session, provider_id: int, holder: str) -> Optional[PlatformRegistration]:
    return s.execute(select(PlatformRegistration).where(and_(
        PlatformRegistration.provider_id == provider_id, PlatformRegistration.holder_key == holder))
    ).scalar_one_or_none()


def _add_certificate(s: Session, provider_id: int, reg_id: int, kind: str, checked: Checked, now: datetime) -> None:
    s.add(PlatformCertificate(provider_id=provider_id, registration_id=reg_id, kind=kind, serial=checked.serial,
                              der=_der(checked), current=True, added_at=now))


ALREADY = "ユーザーの重複登録: this person is already registered with this service provider"


def register(store: Store, provider_id: int, checked: Checked, now: datetime) -> Registered:
    """A new registration with a verified SIGN certificate; 409 when the holder (or this
    certificate) is registered with this provider already."""
    facts = facts_of(checked)
    try:
        with store.transaction() as s:
            if _by_certificate(s, provider_id, checked.serial) is not None or (
                    checked.holder is not None and _by_holder(s, provider_id, checked.holder) is not None):
                raise PlatformError(409, ALREADY, outcome="already-registered")
            reg = PlatformRegistration(provider_id=provider_id, tis_user_id=str(uuid.uuid4()),
                                       applicant_id=_applicant_id(now), holder_key=checked.holder,
                                       created_at=now, updated_at=now, **facts)
            s.add(reg)
            s.flush()
            _add_certificate(s, provider_id, reg.id, "sign", checked, now)
            s.flush()
            return _view(s, reg)
    except IntegrityError:
        raise PlatformError(409, ALREADY, outcome="already-registered") from None


def _retried(change):
    """Run ``change`` again once when a parallel call made the same link first (the unique
    constraint refused ours): the second run finds that link."""
    def run(*args):
        try:
            return change(*args)
        except IntegrityError:
            return change(*args)
    run.__doc__ = change.__doc__
    return run


_LINK, _SIGN = aliased(PlatformCertificate), aliased(PlatformCertificate)
# Built once (the log-in's one query in the usual case): registration, the link's kind, current SIGN.
_LINKED = (select(PlatformRegistration, _LINK.kind, _SIGN.der)
           .join(_LINK, _LINK.registration_id == PlatformRegistration.id)
           .outerjoin(_SIGN, and_(_SIGN.registration_id == PlatformRegistration.id, _SIGN.kind == "sign",
                                  _SIGN.current.is_(True)))
           .where(_LINK.provider_id == bindparam("provider"), _LINK.serial == bindparam("serial")))


def for_login(store: Store, provider_id: int, checked: Checked) -> tuple[Optional[Registered], bool]:
    """The registration of a verified AUTH certificate (read only): by its link, else by its
    holder's registration — then ``True``: the link is to be made (:func:`link_auth`), in the
    transaction that also enters the nonce and the audit entry."""
    with store.sessions() as s:
        found = s.execute(_LINKED, {"provider": provider_id, "serial": checked.serial}).first()
        if found is not None:
            reg, kind, der = found
            if kind != "auth":
                return None, False
            return _registered(reg, der), False
        reg, linked = find_linked(checked.serial, checked.holder, lambda _serial: None,
                                  lambda holder: _by_holder(s, provider_id, holder))
        return (_view(s, reg), linked) if reg is not None else (None, False)


def lock_registration(s: Session, reg_id: int) -> None:
    """Take the registration's row lock (PostgreSQL; SQLite's write lock is taken already):
    parallel first log-ins of one person link one after the other, each seeing the link
    the previous one made, instead of meeting on the audit chain's head in a deadlock."""
    s.execute(select(PlatformRegistration.id).where(PlatformRegistration.id == reg_id).with_for_update())


def link_auth(s: Session, provider_id: int, reg_id: int, checked: Checked, now: datetime) -> None:
    """Link the AUTH certificate to the registration (the previous AUTH link, of a card
    renewed, R3.7, is no longer current); a parallel link makes the commit fail."""
    s.execute(update(PlatformCertificate).where(and_(
        PlatformCertificate.registration_id == reg_id, PlatformCertificate.kind == "auth",
        PlatformCertificate.current.is_(True))).values(current=False, replaced_at=now))
    _add_certificate(s, provider_id, reg_id, "auth", checked, now)


@_retried
def replace(store: Store, provider_id: int, checked: Checked, now: datetime) -> Registered:
    """The holder's new SIGN certificate (linked by the register) replaces the registered one
    and brings its facts; the ``tisUserId`` stays. 404 when no registration is linked."""
    facts = facts_of(checked)
    with store.transaction() as s:
        row = _by_certificate(s, provider_id, checked.serial)
        reg = s.get(PlatformRegistration, row.registration_id) if row is not None and row.kind == "sign" else None
        if reg is None and checked.holder is not None:
            reg = _by_holder(s, provider_id, checked.holder)
        if reg is None:
            raise PlatformError(404, "旧シリアル番号取得失敗: no registration is linked to the holder of this "
                                "certificate", outcome="not-registered")
        if row is None:
            s.execute(update(PlatformCertificate).where(and_(
                PlatformCertificate.registration_id == reg.id, PlatformCertificate.kind == "sign",
                PlatformCertificate.current.is_(True))).values(current=False, replaced_at=now))
            _add_certificate(s, provider_id, reg.id, "sign", checked, now)
        for name, value in facts.items():
            setattr(reg, name, value)
        reg.updated_at = now
        s.flush()
        return _view(s, reg)


__all__ = ["Registered", "for_login", "link_auth", "lock_registration", "register", "replace"]
