"""The platform API's three calls, as one function each of a body's bytes to an answer.

    service = PlatformService(store, core, KeyStore(keys_dir), sandbox=True)
    answer = service.handle(Call.LOGIN, raw_body, now)   # answer.status, answer.body

The steps of every call, and the status each refusal gives (the contract's table):

1. the body: JSON, the call's fields, ``recipient`` JPKI, a nonce of 1 to 1024 bytes, a
   base64 signature — else **400**;
2. the provider (``sender``): known and enabled, or any in the sandbox — else **401**;
3. the certificate: a JWE to one of the platform's keys (current or previous) or a bare
   PEM — else **400**;
4. the card's signature over exactly the nonce's bytes, the certificate's path to our roots,
   its validity, its purpose (R1.1: SIGN to register and replace, AUTH to log in) and its
   revocation — a bad signature, a certificate not ours or for the other purpose, revoked,
   on hold or expired: **401**; the revocation source unavailable: **503**;
5. the nonce not seen in this call of this provider within the replay window — else **401**;
6. registration: **409** when this holder is registered with the provider already;
   log-in: **404** when no registration is linked to the AUTH certificate or its holder,
   **410** when the registration's SIGN certificate has ended (after a move, R4.1) — the
   caller then asks for a replacement with the same nonce; replacement: **404** when no
   registration is linked to the new SIGN certificate's holder.

Anything else (a store fault) is a **500** in the same shape. Every call, answered or refused,
is in the audit log (``platform.<call>``: provider, transaction id, status and outcome).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Optional

from cryptography import x509
from sqlalchemy.exc import IntegrityError

from openjpki.services.audit import record, record_on
from openjpki.services.platform import registry
from openjpki.services.platform.answers import (
    Call, PlatformError, RequestInfo, checked_status, failure, success,
)
from openjpki.services.platform.certificate import read_certificate
from openjpki.services.platform.keys import KeySet, KeyStore, PlatformKeyError
from openjpki.services.platform.lookup import LoginFacts, answering_from, read_login
from openjpki.services.platform.providers import admit
from openjpki.services.platform.replay import DEFAULT_WINDOW, accept_nonce, enter_nonce, forget_expired, seen
from openjpki.services.platform.requests import PlatformRequest, decode_body, parse_request, request_info_of
from openjpki.services.relying_party_core import Checked, Outcome, VerificationCore
from openjpki.store import Store, serial_hex

log = logging.getLogger("openjpki.platform")
ACTOR = "platform"
UNAVAILABLE = "システム利用不可: the revocation status cannot be learnt now; try again later"


def replayed() -> PlatformError:
    return PlatformError(401, "クライアント認証失敗: this signed nonce was used already (replay)",
                         outcome="replayed-nonce")


@dataclass(frozen=True)
class PlatformAnswer:
    status: int
    body: dict


def refusal(checked: Checked, call: Call) -> Optional[PlatformError]:
    """The answer to a verdict that is not good (None when it is)."""
    if checked.outcome is Outcome.GOOD:
        return None
    if checked.outcome is Outcome.UNAVAILABLE:
        return PlatformError(503, UNAVAILABLE, outcome="revocation-unavailable")
    what = "利用者証明用電子証明書" if call is Call.LOGIN else "署名用電子証明書"
    why = {Outcome.BAD_SIGNATURE: "署名検証失敗", Outcome.ENDED: f"{what}が失効または有効期間外"}.get(
        checked.outcome, f"{what}を確認できません")
    return PlatformError(401, f"クライアント認証失敗 ({why}): {checked.result.reason}",
                         outcome=checked.result.status)


class PlatformService:
    def __init__(self, store: Store, core: VerificationCore, keys: Optional[KeyStore], *, sandbox: bool,
                 window: timedelta = DEFAULT_WINDOW) -> None:
        self.store = store
        self.core = core
        self.keys = keys
        self.sandbox = sandbox
        self.window = window

    def key_set(self, now: datetime) -> Optional[KeySet]:
        if self.keys is None:
            return None
        try:
            return self.keys.keys(now)
        except PlatformKeyError as e:
            log.error("platform keys: %s", e)
            return None

    def jwks(self, now: datetime) -> Optional[dict]:
        keys = self.key_set(now)
        return keys.jwks() if keys is not None else None

    def handle(self, call: Call, raw: bytes, now: datetime) -> PlatformAnswer:
        info = RequestInfo()
        detail: dict = {}
        try:
            body = decode_body(raw)
            info = request_info_of(body)
            request = parse_request(call, body)
            status, answer = 200, self._answer(request, now, detail)
            outcome = "success"
        except PlatformError as e:
            error = checked_status(call, e)
            status, answer, outcome = error.status, failure(info, now, error), error.outcome
        except Exception:  # noqa: BLE001 — a store fault: the contract's 500, never a traceback
            log.exception("platform %s failed", call.value)
            error = PlatformError(500, "システム異常 (internal error)", outcome="internal-error")
            status, answer, outcome = 500, failure(info, now, error), error.outcome
        self._audit(call, info, status, outcome, now, detail)
        return PlatformAnswer(status, answer)

    def _answer(self, request: PlatformRequest, now: datetime, detail: dict) -> dict:
        call = request.call
        if call is Call.LOGIN:
            reg = self._login(request, now, detail)
            return success(request.info, now, reg.applicant_id, reg.identity)
        provider = admit(self.store, request.info.sender, now, sandbox=self.sandbox)
        der = read_certificate(request.certificate, self.key_set(now))
        checked = self._checked(request, der, now, detail)
        if not accept_nonce(self.store, provider, call, request.nonce, now, self.window):
            raise replayed()
        if call is Call.REGISTRATION:
            reg = registry.register(self.store, provider, checked, now)
        else:
            reg = registry.replace(self.store, provider, checked, now)
        detail["tis_user_id"] = reg.identity.tis_user_id
        return success(request.info, now, reg.applicant_id, reg.identity)

    def _checked(self, request: PlatformRequest, der: bytes, now: datetime, detail: dict) -> Checked:
        """The card's signature and the certificate, for the call's purpose (refused: raised)."""
        call = request.call
        checked = self.core.check(request.nonce, request.signature, der,
                                  "auth" if call is Call.LOGIN else "sign", now)
        detail["serial"] = checked.serial or None
        error = refusal(checked, call)
        if error is not None:
            raise error
        return checked

    def _login_reads(self, request: PlatformRequest, now: datetime) -> tuple[bytes, Optional[LoginFacts]]:
        """The AUTH certificate and the log-in's one read (lookup.read_login); the refusals in
        the order of the steps (an unknown or disabled provider before a bad certificate)."""
        try:
            der, error = read_certificate(request.certificate, self.key_set(now)), None
        except PlatformError as e:
            der, error = b"", e
        facts = None
        if error is None:
            try:
                serial = serial_hex(x509.load_der_x509_certificate(der).serial_number)
            except ValueError:
                serial = ""  # the verifier says what is wrong with it
            facts = read_login(self.store, request.info.sender, serial) if serial else None
        if facts is None or not facts.enabled:
            admit(self.store, request.info.sender, now, sandbox=self.sandbox)  # 401, or made in the sandbox
        if error is not None:
            raise error
        return der, facts

    def _login(self, request: PlatformRequest, now: datetime, detail: dict) -> registry.Registered:
        """Log-in: one read (provider, AUTH and SIGN records, registration), the checks, then
        one transaction enters the nonce, the AUTH link (when new) and the audit entry together."""
        der, facts = self._login_reads(request, now)
        with answering_from(facts.statuses if facts is not None else {}):
            checked = self._checked(request, der, now, detail)
            if facts is not None and facts.link_kind is not None:
                provider = facts.provider
                found = (registry.Registered(facts.registration, facts.applicant_id, facts.identity,
                                             facts.sign_der) if facts.link_kind == "auth" else None, False)
            else:  # not linked yet: found through the holder (the first log-in with this card)
                provider = admit(self.store, request.info.sender, now, sandbox=self.sandbox)
                found = registry.for_login(self.store, provider, checked)
            reg = self._registration(found[0], now)
        detail["tis_user_id"] = reg.identity.tis_user_id
        return self._enter_login(provider, request, checked, found[1], reg, now, detail)

    def _registration(self, reg: Optional[registry.Registered], now: datetime) -> registry.Registered:
        """The log-in's registration, its SIGN certificate still good (404, 410, 503 if not)."""
        if reg is None:
            raise PlatformError(404, "ユーザ未登録: no registration is linked to this AUTH certificate",
                                outcome="not-registered")
        sign = self.core.status_of(reg.sign_der, "sign", now) if reg.sign_der is not None else None
        if sign is not None and sign.outcome is Outcome.UNAVAILABLE:
            raise PlatformError(503, UNAVAILABLE, outcome="revocation-unavailable")
        if sign is None or not sign.good:
            reason = sign.result.reason if sign is not None else "none on record"
            raise PlatformError(410, f"署名用電子証明書が失効している: {reason}", outcome="sign-ended")
        return reg

    def _enter_login(self, provider: int, request: PlatformRequest, checked: Checked, linked: bool,
                     reg: registry.Registered, now: datetime, detail: dict) -> registry.Registered:
        for attempt in (1, 2):
            try:
                if linked:
                    with self.store.transaction() as s:
                        registry.lock_registration(s, reg.id)  # parallel first log-ins: one at a time
                        enter_nonce(s, provider, Call.LOGIN, request.nonce, now, self.window)
                        registry.link_auth(s, provider, reg.id, checked, now)
                        self._record(s, Call.LOGIN, request.info, 200, "success", now, detail)
                else:  # the usual log-in: two rows, on Core (no ORM session)
                    with self.store.core_transaction() as conn:
                        enter_nonce(conn, provider, Call.LOGIN, request.nonce, now, self.window)
                        self._record(conn, Call.LOGIN, request.info, 200, "success", now, detail, record_on)
                detail["audited"] = True
                return reg
            except IntegrityError:
                if seen(self.store, provider, Call.LOGIN, request.nonce, now):
                    raise replayed() from None
                if attempt == 2:
                    raise
                # the nonce's row was past its window, or a parallel log-in made the link first
                forget_expired(self.store, provider, Call.LOGIN, request.nonce, now)
                found, linked = registry.for_login(self.store, provider, checked)
                if found is None:
                    raise
                reg = found
        raise AssertionError("unreachable")

    def _record(self, s, call: Call, info: RequestInfo, status: int, outcome: str, now: datetime,
                detail: dict, write=record) -> None:
        write(s, f"platform.{call.value}", now, actor=ACTOR, subject=f"provider:{info.sender or '-'}",
               transaction_id=info.transaction_id, status=status, outcome=outcome,
               **{k: v for k, v in detail.items() if v and k != "audited"})

    def _audit(self, call: Call, info: RequestInfo, status: int, outcome: str, now: datetime, detail: dict) -> None:
        if detail.get("audited"):
            return
        try:
            with self.store.transaction() as s:
                self._record(s, call, info, status, outcome, now, detail)
        except Exception:  # noqa: BLE001 — the answer is given even if the log cannot be written
            log.exception("platform audit entry not written")


__all__ = ["PlatformAnswer", "PlatformService", "refusal"]
