"""Issuing and storing certificates: one at a time (a counter procedure, in its caller's
transaction) or many in one transaction (bulk loading, batched renewals).

The hot path stays out of the ORM: a certificate is signed (:func:`openjpki.pki.issue_certificate`),
its row goes in with one Core INSERT (an executemany for a batch), and the CRL partition
counter of its municipality is made only the first time this process meets the partition
after a commit (rows of ``crl_series`` are never deleted). The guarantee of a counter
procedure is unchanged: with ``session=``, the rows, the superseding of the holder's old
certificate (R3.7) and everything else the procedure writes commit or roll back together.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Iterable, Optional

from cryptography import x509
from sqlalchemy import Integer, bindparam, event, insert, literal, select
from sqlalchemy.orm import Session

from openjpki.pki import Kind, SignFacts, issue_certificate_der, new_serial, partition_id
from openjpki.rules.revocation import Reason
from openjpki.services.authority_types import CertificateRecord
from openjpki.store import Certificate, serial_hex
from openjpki.store import ocsp_queries as oq
from openjpki.store import queries as q

_TABLE = Certificate.__table__
_PENDING_SERIES = "openjpki.crl_series.pending"
_INSERT = insert(_TABLE)  # built once, compiled once per engine
_LIVE = select(_TABLE.c.serial, _TABLE.c.resident_id, _TABLE.c.kind).where(
    _TABLE.c.resident_id.in_(bindparam("residents", expanding=True)), _TABLE.c.status == "good")


@dataclass(frozen=True)
class IssueRequest:
    """One certificate to issue (the arguments of :meth:`AuthorityService.issue`)."""

    kind: Kind | str
    public_key: Any
    last_valid_day: date
    subject_id: Optional[str] = None
    prefecture: Optional[str] = None
    municipality: Optional[str] = None
    facts: Optional[SignFacts] = None
    resident_id: Optional[str] = None
    supersede: bool = True


def sign_row(service, req: IssueRequest, now: datetime) -> dict:
    """Sign the certificate of ``req`` with the current authority of its kind; the values of
    its ``certificates`` row (nothing stored yet). ValueError for what the profile refuses."""
    kind = Kind(req.kind)
    a = service.current(kind)
    subject_id = req.subject_id or secrets.token_hex(10).upper()
    serial = new_serial()
    der = issue_certificate_der(
        kind, issuer=a.root, signer=service.signer(a.id), public_key=req.public_key,
        serial=serial, not_before=now, last_valid_day=req.last_valid_day, subject_id=subject_id,
        prefecture=req.prefecture, municipality=req.municipality, facts=req.facts,
        options=service.options_for(a))
    cert = x509.load_der_x509_certificate(der)  # its times as stored (re-encoding the DER costs 4× more)
    part = partition_id(req.prefecture, req.municipality) if kind is Kind.SIGN else None  # type: ignore[arg-type]
    return dict(serial=serial_hex(serial), authority_id=a.id, kind=kind.value,
                subject_id=subject_id, resident_id=req.resident_id, partition=part,
                not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                der=der, status="good",
                change_seq=0, issued_at=now,
                _place=(req.prefecture, req.municipality), _supersede=req.supersede)


def record_of(row: dict) -> CertificateRecord:
    return CertificateRecord(row["serial"], row["kind"], "good", None, row["not_before"],
                             row["not_after"], row["subject_id"], row["resident_id"],
                             row["partition"], None, row["der"])


def store_rows(service, s: Session, rows: list[dict], now: datetime) -> bool:
    """Insert signed rows in ``s``: supersede the holders' live certificates of the same
    kind first (R3.7), then one INSERT for all rows, then the partitions' CRL counters.
    True when a status changed (the caller notifies OCSP and CRL caches after commit)."""
    changed = _supersede(service, s, [r for r in rows if r["resident_id"] and r["_supersede"]], now)
    # Core on the session's own transaction: no ORM unit of work for rows nobody reads back
    conn = s.connection()
    values = [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]
    if len(values) == 1 and conn.dialect.name == "postgresql":  # a counter's one certificate:
        conn.execute(_insert_registered(values[0]), values[0])  # one round trip for both rows
    else:
        conn.execute(_INSERT, values)
        oq.register_many(s, [(r["serial"], r["authority_id"]) for r in rows])  # OCSP due at once
    known = service._known_series
    fresh: dict[tuple[int, str], tuple] = {}
    for r in rows:
        key = (r["authority_id"], r["partition"])
        if r["partition"] is not None and key not in known and key not in fresh:
            fresh[key] = r["_place"]
    for (authority_id, part), (prefecture, municipality) in fresh.items():
        q.ensure_crl_series(s, authority_id, part, prefecture=prefecture, municipality=municipality)
    if fresh:  # remembered only once they are committed (a rollback would undo them)
        s.info.setdefault(_PENDING_SERIES, []).append((known, list(fresh)))
    return changed


_REGISTERED: dict[tuple[str, ...], Any] = {}


def _insert_registered(row: dict):
    """PostgreSQL: the certificate's INSERT and its OCSP row's (due at once) in one statement,
    ``WITH issued AS (INSERT INTO certificates … RETURNING serial, authority_id) INSERT INTO
    ocsp_responses … SELECT … FROM issued``; built once per set of columns."""
    key = tuple(row)
    stmt = _REGISTERED.get(key)
    if stmt is None:
        issued = (insert(_TABLE).values({c: bindparam(c) for c in key})
                  .returning(_TABLE.c.serial, _TABLE.c.authority_id).cte("issued"))
        stmt = _REGISTERED[key] = oq.register_from(select(
            issued.c.serial, issued.c.authority_id, literal(0, Integer), literal(0, Integer)))
    return stmt


def _supersede(service, s: Session, rows: list[dict], now: datetime) -> bool:
    if not rows:
        return False
    pairs = [(r["resident_id"], r["kind"]) for r in rows]
    if len(set(pairs)) != len(pairs):
        raise ValueError("one batch issues at most one certificate per holder and kind")
    residents = sorted({p[0] for p in pairs})
    live = s.connection().execute(_LIVE, {"residents": residents}).all()
    wanted = set(pairs)
    changed = False
    for serial, resident_id, kind in live:
        if (resident_id, kind) in wanted:
            service._transition(s, serial, "revoked", Reason.SUPERSEDED, now)
            changed = True
    return changed


@event.listens_for(Session, "after_commit")
def _remember_series(session: Session) -> None:
    for known, keys in session.info.pop(_PENDING_SERIES, None) or ():
        known.update(keys)


@event.listens_for(Session, "after_rollback")
def _forget_series(session: Session) -> None:
    session.info.pop(_PENDING_SERIES, None)


def issue_many(service, requests: Iterable[IssueRequest], *, now: datetime,
               session: Optional[Session] = None) -> list[CertificateRecord]:
    """Sign every request, then store them all in one transaction (``session``'s, or a new
    one committed here). ValueError for any request the profile refuses (nothing stored)."""
    rows = [sign_row(service, r, now) for r in requests]
    if not rows:
        return []
    with service._transaction(session) as s:
        changed = store_rows(service, s, rows, now)
    if changed and session is None:
        service._notify()
    return [record_of(r) for r in rows]
