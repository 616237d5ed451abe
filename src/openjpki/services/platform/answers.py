"""The one answer body of the platform API, for success and every failure alike, and the
closed set of statuses each call may answer (the caller has a branch for these and no other).

    {"responseInfo": {"transactionId", "recipient", "sender": "JPKI", "ts"},
     "status": {"status": "SUCCESS"} | {"status": "FAILED", "errorInfo": {"reason", "message"}},
     "applicantId": …, "identityInfo": {"tisUserId", "name", "dateOfBirth", "gender", "address"}}

``applicantId`` and ``identityInfo`` are present on success only; nothing else is ever added
(the caller reads the body with a strict mapper that fails on an unknown member).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Optional

from openjpki.rules import JST

PLATFORM_ID = "JPKI"  # the platform's name in requestInfo.recipient / responseInfo.sender


class Call(enum.Enum):
    REGISTRATION = "registration"
    LOGIN = "login"
    REPLACEMENT = "replacement"

    @property
    def allowed(self) -> frozenset[int]:
        """The statuses this call may answer (besides 200)."""
        return _ALLOWED[self]


_ALLOWED = {
    Call.REGISTRATION: frozenset({400, 401, 409, 500, 503}),
    Call.LOGIN: frozenset({400, 401, 404, 410, 500, 503}),
    Call.REPLACEMENT: frozenset({400, 401, 404, 500, 503}),
}


class PlatformError(Exception):
    """A failure answer: its HTTP status (one of the call's) and a one-line message (Japanese
    first, the English after it, for an integrator reading the log)."""

    def __init__(self, status: int, message: str, *, outcome: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.outcome = outcome or HTTPStatus(status).phrase.lower().replace(" ", "-")


def reason(status: int) -> str:
    """``"401 Unauthorized"``: the code and its reason phrase, as the caller logs them."""
    return f"{status} {HTTPStatus(status).phrase}"


def timestamp(now: datetime) -> str:
    """The contract's ``ts``: Japan time, milliseconds (``2023-06-16 17:31:00.123``)."""
    local = now.astimezone(JST)
    return local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"


@dataclass(frozen=True)
class RequestInfo:
    """What the answer echoes of the request (empty strings when the body had none)."""

    transaction_id: str = ""
    sender: str = ""


@dataclass(frozen=True)
class Identity:
    tis_user_id: str
    name: str
    date_of_birth: str
    gender: str
    address: str

    def to_dict(self) -> dict:
        return {"tisUserId": self.tis_user_id, "name": self.name, "dateOfBirth": self.date_of_birth,
                "gender": self.gender, "address": self.address}


def response_info(info: RequestInfo, now: datetime) -> dict:
    return {"transactionId": info.transaction_id, "recipient": info.sender, "sender": PLATFORM_ID,
            "ts": timestamp(now)}


def success(info: RequestInfo, now: datetime, applicant_id: str, identity: Identity) -> dict:
    return {"responseInfo": response_info(info, now), "status": {"status": "SUCCESS"},
            "applicantId": applicant_id, "identityInfo": identity.to_dict()}


def failure(info: RequestInfo, now: datetime, error: PlatformError) -> dict:
    return {"responseInfo": response_info(info, now),
            "status": {"status": "FAILED", "errorInfo": {"reason": reason(error.status),
                                                          "message": error.message}}}


def checked_status(call: Optional[Call], error: PlatformError) -> PlatformError:
    """The error itself when its status is one ``call`` may answer; otherwise a 500 (a status
    the caller has no branch for would break its log-in: never sent)."""
    allowed = call.allowed if call is not None else frozenset({400, 500, 503})
    if error.status in allowed:
        return error
    return PlatformError(500, "システム異常 (internal error)", outcome="internal-error")


__all__ = ["Call", "Identity", "PLATFORM_ID", "PlatformError", "RequestInfo", "checked_status", "failure",
           "reason", "response_info", "success", "timestamp"]
