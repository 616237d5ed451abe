"""A relying party's accounts on the My Number Card (what a platform-style service does):

- **registration with SIGN** (R1.1: documents are signed with SIGN; R1.2: it carries the four
  facts): the holder signs a challenge the server issued with the SIGN key; verified, the
  relying party records the certificate's serial and facts (and, when the holder also signs
  the challenge with AUTH, the AUTH serial for log-in);
- **log-in with AUTH** (R1.1): a challenge signed with the AUTH key, verified, finds the
  registration (by the AUTH serial recorded, else by the holder link of the register) and
  opens a session; the answer says whether the registered SIGN is still good;
- **replacement**: after a move the old SIGN is revoked (R4.1) and a new one issued (R4.5);
  the new certificate, presented by the same holder (the register links the two), replaces
  the old one in the registration, with the new facts.

Errors are :class:`RpError` values with an HTTP status (RFC 9457 problem responses):
401 a signature or challenge that does not verify, or a certificate for the wrong purpose;
404 no registration for this holder (or id); 409 already registered, or nothing to replace;
410 a revoked, held, expired or replaced certificate.  Time is an argument everywhere.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, Callable, Optional

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import and_, insert, select, update
from sqlalchemy.engine import Connection, Engine

from openjpki.pki.verify import Verifier
from openjpki.pki.verify_cms import looks_like_cms
from openjpki.services.relying_party_core import Checked, Outcome, VerificationCore, find_linked
from openjpki.services.relying_party_db import certificates, challenges, registrations, sessions, utc
from openjpki.services.relying_party_links import LinkResolver
from openjpki.store.engine import immediate

PURPOSES = ("register", "login", "replace")
KEY_FOR = {"register": "sign", "login": "auth", "replace": "sign"}


class RpError(Exception):
    """A refusal with its HTTP status, a short title and a one-line detail (English and
    Japanese), and the rule when one decides it."""

    def __init__(self, status: int, title: str, detail: str, detail_ja: str = "", *,
                 rule: Optional[str] = None, verdict: Optional[str] = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.detail_ja = status, title, detail, detail_ja
        self.rule, self.verdict = rule, verdict

    def extensions(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message_en": self.detail, "message_ja": self.detail_ja}
        if self.rule:
            out["rule"] = self.rule
        if self.verdict:
            out["verification_status"] = self.verdict
        return out


def _refusal(checked: Checked) -> RpError:
    """401 for a signature that does not verify or a certificate that is not trusted for this
    purpose; 410 for a certificate that was valid and no longer is; 503 while the revocation
    source cannot answer."""
    result = checked.result
    if checked.outcome is Outcome.UNAVAILABLE:
        return RpError(503, "Revocation status unavailable", result.reason,
                       "失効情報を確認できません。しばらくしてから再度お試しください。", verdict=result.status)
    if result.status in ("revoked", "hold", "expired"):
        ja = {"revoked": "電子証明書は失効しています。", "hold": "電子証明書は一時保留（失効）中です。",
              "expired": "電子証明書の有効期間外です。"}[result.status]
        # the verifier names the rule from the revocation reason (R4.1 for a change of the
        # basic facts, R3.7 superseded, R4.3 the holder's request or a hold)
        rule = result.rule or {"revoked": "R4.3", "hold": "R4.3", "expired": "R2.1"}[result.status]
        return RpError(410, "Certificate no longer valid", result.reason, ja, rule=rule, verdict=result.status)
    ja = ("署名を検証できません。" if result.status == "bad-signature"
          else "この電子証明書はこの用途に使えないか、信頼できません。")
    rule = "R1.1" if "R1.1" in result.reason else None
    return RpError(401, "Signature not accepted", result.reason, ja, rule=rule, verdict=result.status)


class RelyingParty:
    def __init__(self, engine: Engine, verifier: Callable[[], Verifier], links: Optional[LinkResolver] = None, *,
                 name: str = "OpenJPKI sample relying party", challenge_ttl: timedelta = timedelta(minutes=5),
                 session_ttl: timedelta = timedelta(hours=1)) -> None:
        self.engine = engine
        # Writes hold SQLite's write lock from their start (single-use challenges, sessions).
        self._writer = immediate(engine)
        self.core = VerificationCore(verifier, links)  # shared with the platform API
        self.links = links
        self.name = name
        self.challenge_ttl = challenge_ttl
        self.session_ttl = session_ttl

    @property
    def verifier(self) -> Verifier:
        return self.core.verifier

    # --- challenges -------------------------------------------------------------------------

    def new_challenge(self, purpose: str, now: datetime) -> dict:
        """A single-use challenge; the holder signs exactly ``challenge`` (its UTF-8 bytes)."""
        if purpose not in PURPOSES:
            raise RpError(422, "Unknown purpose", f"purpose must be one of {', '.join(PURPOSES)}",
                          "用途は register, login, replace のいずれかです。")
        cid = secrets.token_hex(16)
        text = f"openjpki-rp:{purpose}:{cid}:{secrets.token_hex(16)}"
        expires = utc(now) + self.challenge_ttl
        with self._writer.begin() as conn:
            conn.execute(insert(challenges).values(id=cid, purpose=purpose, text=text, issued_at=utc(now),
                                                   expires_at=expires))
        return {"challenge_id": cid, "challenge": text, "purpose": purpose, "key": KEY_FOR[purpose],
                "expires_at": expires.isoformat()}

    def _consume(self, conn: Connection, challenge_id: str, purpose: str, now: datetime) -> bytes:
        row = conn.execute(select(challenges).where(challenges.c.id == str(challenge_id))).first()
        if row is None or row.purpose != purpose:
            raise RpError(401, "Challenge not valid", "unknown challenge, or one issued for another purpose",
                          "チャレンジが無効です。")
        # single use: consumed by the first attempt, whatever its outcome
        used = conn.execute(update(challenges).where(and_(challenges.c.id == row.id, challenges.c.used_at.is_(None)))
                            .values(used_at=utc(now))).rowcount
        if not used:
            raise RpError(401, "Challenge not valid", "the challenge was already used", "チャレンジは使用済みです。")
        if utc(now) > row.expires_at:
            raise RpError(401, "Challenge not valid", "the challenge has expired", "チャレンジの有効期限が切れています。")
        return row.text.encode("utf-8")

    def _verified(self, data: bytes, signature: bytes, certificate, purpose: str, now: datetime) -> Checked:
        checked = self.core.check(data, signature, certificate, purpose, now)  # type: ignore[arg-type]
        if not checked.good:
            raise _refusal(checked)
        return checked

    # --- registration -----------------------------------------------------------------------

    def register(self, challenge_id: str, signature: bytes, certificate: Optional[bytes], now: datetime, *,
                 auth_signature: Optional[bytes] = None, auth_certificate: Optional[bytes] = None) -> dict:
        """Registration with SIGN (and optionally the AUTH of the same card for log-in)."""
        with self._writer.begin() as conn:
            data = self._consume(conn, challenge_id, "register", now)
        checked = self._verified(data, signature, certificate, "sign", now)
        result, holder = checked.result, checked.holder
        auth = auth_holder = None
        if auth_signature is not None:
            if auth_certificate is None and not looks_like_cms(auth_signature):
                raise RpError(422, "AUTH certificate missing", "auth_signature needs auth_certificate",
                              "利用者証明用電子証明書が必要です。")
            auth_checked = self._verified(data, auth_signature, auth_certificate, "auth", now)
            auth, auth_holder = auth_checked.result, auth_checked.holder
        if auth is not None and holder is not None:
            if auth_holder not in (None, holder):
                raise RpError(409, "Certificates of two holders", "the SIGN and AUTH certificates belong to "
                              "different holders", "署名用と利用者証明用の電子証明書の保有者が異なります。")
        facts = result.facts_dict()
        rid = secrets.token_hex(16)
        with self._writer.begin() as conn:
            self._refuse_known(conn, result.serial, "SIGN")  # type: ignore[arg-type]
            if auth is not None:
                self._refuse_known(conn, auth.serial, "AUTH")  # type: ignore[arg-type]
            if holder is not None:
                other = conn.execute(select(registrations.c.id).where(registrations.c.holder_key == holder)).first()
                if other is not None:
                    raise RpError(409, "Already registered", "this holder is already registered; a new SIGN "
                                  "certificate replaces the old one through /api/rp/replacements",
                                  "この利用者は登録済みです。新しい署名用電子証明書は更新手続で登録します。",
                                  rule="R4.5")
            conn.execute(insert(registrations).values(id=rid, holder_key=holder, facts=facts, created_at=utc(now),
                                                      updated_at=utc(now)))
            for res in (result, auth):
                if res is not None:
                    conn.execute(insert(certificates).values(serial=res.serial, registration_id=rid, kind=res.kind,
                                                             der=_der(res.certificate), current=True,
                                                             added_at=utc(now)))
            return self._view(conn, rid)

    def _refuse_known(self, conn: Connection, serial: str, label: str) -> None:
        row = conn.execute(select(certificates).where(certificates.c.serial == serial)).first()
        if row is None:
            return
        if row.current:
            raise RpError(409, "Already registered", f"this {label} certificate is already registered",
                          "この電子証明書は登録済みです。")
        raise RpError(410, "Certificate replaced", f"this {label} certificate was replaced by {row.replaced_by}",
                      "この電子証明書は新しい電子証明書に置き換えられています。", rule="R4.5")

    # --- log-in -------------------------------------------------------------------------------

    def login(self, challenge_id: str, signature: bytes, certificate: Optional[bytes], now: datetime) -> dict:
        """Log-in with AUTH: a session token and the registration (404 when none)."""
        with self._writer.begin() as conn:
            data = self._consume(conn, challenge_id, "login", now)
        checked = self._verified(data, signature, certificate, "auth", now)
        result, serial = checked.result, checked.serial
        with self._writer.begin() as conn:
            row = conn.execute(select(certificates).where(certificates.c.serial == serial)).first()
            if row is not None and not row.current:
                raise RpError(410, "Certificate replaced", f"this AUTH certificate was replaced by {row.replaced_by}",
                              "この電子証明書は置き換えられています。", rule="R3.7")
            rid, linked = find_linked(
                serial, checked.holder, lambda _s: row.registration_id if row is not None else None,
                lambda h: conn.execute(select(registrations.c.id).where(registrations.c.holder_key == h)).scalar())
            if linked:
                # the AUTH of this holder's card: its predecessor (renewed, R3.7) is replaced
                old = conn.execute(select(certificates.c.serial).where(and_(
                    certificates.c.registration_id == rid, certificates.c.kind == "auth",
                    certificates.c.current.is_(True)))).scalars().all()
                conn.execute(update(certificates).where(certificates.c.serial.in_(old))
                             .values(current=False, replaced_at=utc(now), replaced_by=serial))
                conn.execute(insert(certificates).values(serial=serial, registration_id=rid, kind="auth",
                                                         der=_der(result.certificate), current=True,
                                                         added_at=utc(now)))
            if rid is None:
                raise RpError(404, "Not registered", "no registration for the holder of this AUTH certificate",
                              "この利用者は登録されていません。先に署名用電子証明書で登録してください。")
            token = secrets.token_urlsafe(32)
            expires = utc(now) + self.session_ttl
            conn.execute(insert(sessions).values(token_hash=_hash(token), registration_id=rid, auth_serial=serial,
                                                 created_at=utc(now), expires_at=expires, ended=False))
            view = self._view(conn, rid)
            sign_der = self._current_der(conn, rid, "sign")
        # after a move the registered SIGN is revoked (R4.1): the holder is told to replace it
        view["sign_status"] = (self.core.status_of(sign_der, "sign", now).result.status
                               if sign_der is not None else None)
        return {"token": token, "token_type": "Bearer", "expires_at": expires.isoformat(), "registration": view}

    # --- replacement --------------------------------------------------------------------------

    def replace(self, challenge_id: str, signature: bytes, certificate: Optional[bytes], now: datetime) -> dict:
        """A new SIGN of the same holder (linked by the register) replaces the registered one,
        which must have ended (revoked after a move, R4.1; renewed, R3.7; expired)."""
        with self._writer.begin() as conn:
            data = self._consume(conn, challenge_id, "replace", now)
        checked = self._verified(data, signature, certificate, "sign", now)
        result, holder = checked.result, checked.holder
        with self._writer.begin() as conn:
            self._refuse_known(conn, result.serial, "SIGN")  # type: ignore[arg-type]
            found = conn.execute(select(registrations.c.id).where(registrations.c.holder_key == holder)
                                 ).first() if holder else None
            if found is None:
                raise RpError(404, "Not registered", "no registration is linked to the holder of this certificate",
                              "この電子証明書の保有者の登録が見つかりません。")
            rid = found.id
            olds = conn.execute(select(certificates).where(and_(
                certificates.c.registration_id == rid, certificates.c.kind == "sign",
                certificates.c.current.is_(True)))).all()
            for old in olds:
                status = self.core.status_of(old.der, "sign", now).result.status
                if status == "good":
                    raise RpError(409, "Nothing to replace", f"the registered SIGN certificate {old.serial} is "
                                  "still valid", "登録済みの署名用電子証明書はまだ有効です。", rule="R3.7")
            conn.execute(update(certificates).where(certificates.c.serial.in_([o.serial for o in olds]))
                         .values(current=False, replaced_at=utc(now), replaced_by=result.serial))
            conn.execute(insert(certificates).values(serial=result.serial, registration_id=rid, kind="sign",
                                                     der=_der(result.certificate), current=True, added_at=utc(now)))
            conn.execute(update(registrations).where(registrations.c.id == rid)
                         .values(facts=result.facts_dict(), updated_at=utc(now)))
            view = self._view(conn, rid)
        view["replaced"] = [o.serial for o in olds]
        return view

    # --- reading ------------------------------------------------------------------------------

    def session(self, token: Optional[str], now: datetime) -> dict:
        """The registration of a live session (401 otherwise)."""
        if not token:
            raise RpError(401, "Not logged in", "a Bearer session token is required", "ログインが必要です。")
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.token_hash == _hash(token))).first()
            if row is None or row.ended or utc(now) >= row.expires_at:
                raise RpError(401, "Not logged in", "the session is unknown, ended or expired",
                              "セッションが無効です。")
            view = self._view(conn, row.registration_id)
        return {"registration": view, "auth_serial": row.auth_serial, "expires_at": row.expires_at.isoformat()}

    def logout(self, token: Optional[str]) -> None:
        if token:
            with self._writer.begin() as conn:
                conn.execute(update(sessions).where(sessions.c.token_hash == _hash(token)).values(ended=True))

    def registration(self, registration_id: str, token: Optional[str], now: datetime) -> dict:
        """One registration, for its own holder's session (401), else 404."""
        mine = self.session(token, now)["registration"]
        if mine["id"] != registration_id:
            raise RpError(404, "Unknown registration", f"no registration {registration_id!r} for this session",
                          "登録が見つかりません。")
        return mine

    def _view(self, conn: Connection, rid: str) -> dict:
        reg = conn.execute(select(registrations).where(registrations.c.id == rid)).first()
        if reg is None:
            raise RpError(404, "Unknown registration", f"no registration {rid!r}", "登録が見つかりません。")
        certs = conn.execute(select(certificates).where(certificates.c.registration_id == rid)
                             .order_by(certificates.c.added_at)).all()
        current = {c.kind: c for c in certs if c.current}
        return {"id": reg.id, "facts": reg.facts, "sign_serial": current["sign"].serial if "sign" in current else None,
                "auth_serial": current["auth"].serial if "auth" in current else None,
                "previous_serials": [c.serial for c in certs if not c.current],
                "created_at": reg.created_at.isoformat(), "updated_at": reg.updated_at.isoformat()}

    def _current_der(self, conn: Connection, rid: str, kind: str) -> Optional[bytes]:
        der = conn.execute(select(certificates.c.der).where(and_(
            certificates.c.registration_id == rid, certificates.c.kind == kind,
            certificates.c.current.is_(True)))).scalar()
        return bytes(der) if der is not None else None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _der(cert: Optional[x509.Certificate]) -> bytes:
    assert cert is not None
    return cert.public_bytes(serialization.Encoding.DER)
