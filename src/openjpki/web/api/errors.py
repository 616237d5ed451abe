"""From the services' answers and exceptions to HTTP: the problem responses of the API.

Status codes (documented in /openapi.json and the module docstring of ``openjpki.web.api``):

- **409 Conflict**, type ``…/refused``: a rule refuses because of the *state* of things — the
  renewal window (R3.x), certificate states (R3.7, R4.x), the card or its face (R5.2), a
  wrong or locked PIN (R1.4, R1.7), office hours and closures (R5.8), expiry (R2.x), the
  age rule at the day (R5.11). Done later or after another step, the same request can pass.
- **422 Unprocessable Content**, type ``…/refused``: a rule refuses *what was brought or
  typed* — PIN forms (R1.3, R1.6), eligibility (R1.5, R5.6), documents and applicants
  (R5.3–R5.7, anything with ``missing``), legacy certificates (R2.6).
- **422**, type ``…/invalid-request``: the body does not have the documented form
  (``errors[].loc`` names the field).
- **400**, type ``…/invalid-input``: well-formed but not a question the counter can answer
  (a card that is not the resident's, a change that changes nothing …).
- **404**, type ``…/not-found``: an unknown id.
- **503**, type ``…/unavailable``: the store is not initialised or does not answer.
- **401**, type ``…/unauthorized``, and **403**, type ``…/forbidden``: see
  :mod:`openjpki.web.api.auth` (clerks' API tokens and their roles).

Every refusal body carries ``rule``, ``message_ja`` and ``message_en``, and ``opens_on`` /
``opens_at`` / ``missing`` when the rule gave them.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from openjpki.rules import Refused
from openjpki.web.problems import Problem

T = TypeVar("T")
PROBLEM_BASE = "https://openjpki.github.io/problems/"
REFUSED = PROBLEM_BASE + "refused"
INVALID_INPUT = PROBLEM_BASE + "invalid-input"
NOT_FOUND = PROBLEM_BASE + "not-found"
UNAVAILABLE = PROBLEM_BASE + "unavailable"
CARD_BUSY = PROBLEM_BASE + "card-in-use"

# Rules whose refusals are about what the applicant brought or typed (422); all others are
# about the state of the register, the card, the certificates or the calendar (409).
APPLICATION_RULES = frozenset({"R1.3", "R1.5", "R1.6", "R2.6", "R5.3", "R5.4", "R5.5",
                               "R5.6", "R5.7", "R5.10"})


STATE_RULES = frozenset({"R1.4", "R1.7", "R2.1", "R2.2", "R2.3", "R5.2", "R5.8", "R5.9",
                         "R5.11"})


def refusal_status(refused: Refused) -> int:
    rule = refused.rule
    if rule in STATE_RULES or rule.startswith(("R3.", "R4.", "R6.", "R7.")):
        return 409
    if rule in APPLICATION_RULES or refused.missing:
        return 422
    return 409


def refusal_problem(refused: Refused) -> Problem:
    d = refused.to_dict()
    extra = {k: d[k] for k in ("opens_on", "opens_at", "missing") if k in d}
    return Problem(refusal_status(refused), "Refused", refused.message_en, type=REFUSED,
                   outcome="refused", rule=refused.rule, message_ja=refused.message_ja,
                   message_en=refused.message_en, **extra)


def guarded(call: Callable[[], T]) -> T:
    """Run a service call, turning its exceptions into problem responses (never a 500 for
    anything the services raise on purpose)."""
    from openjpki.card import CardError, CardInUse, CardStoreError, IssuingError
    from openjpki.services.authority import (
        NotInitialised, TransitionRefused, UnknownCertificate, UnknownPartition,
    )
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.counter.context import ConfigError
    from openjpki.services.counter.residents import InputError, NotFound
    from openjpki.services.counter.secrets import SecretBoxError
    from sqlalchemy.exc import IntegrityError, OperationalError

    try:
        return call()
    except NotFound as e:
        raise Problem(404, "Not found", str(e), type=NOT_FOUND) from None
    except (UnknownCertificate, UnknownPartition) as e:
        raise Problem(404, "Not found", str(e), type=NOT_FOUND) from None
    except TransitionRefused as e:
        raise refusal_problem(e.refusal) from None
    except InputError as e:
        raise Problem(400, "Invalid input", str(e), type=INVALID_INPUT) from None
    except CardInUse as e:
        raise Problem(409, "Card in use", str(e), type=CARD_BUSY) from None
    except (CardStoreError, CardError, IssuingError) as e:
        raise Problem(409, "Card problem", str(e), type=CARD_BUSY) from None
    except (NotInitialised, SetupError, ConfigError, SecretBoxError) as e:
        raise Problem(503, "Unavailable", str(e), type=UNAVAILABLE) from None
    except OperationalError as e:
        raise Problem(503, "Store unavailable", type(e.orig).__name__ if e.orig else None,
                      type=UNAVAILABLE, headers={"Retry-After": "1"}) from None
    except IntegrityError:
        raise Problem(409, "Conflict", "the request conflicts with a change made at the "
                      "same moment; try again", type=INVALID_INPUT) from None
    except ValueError as e:  # the services' "not a question at all" (dates, serials …)
        raise Problem(400, "Invalid input", str(e), type=INVALID_INPUT) from None
    except OverflowError:  # a number past what a date, a duration or the store can hold
        raise Problem(400, "Invalid input", "a number in the request is too large for what "
                      "it counts", type=INVALID_INPUT) from None


def answer(outcome: Any) -> tuple[int, dict]:
    """(status, body) for a procedure's answer: 200 done, 202 deferred or waiting for the
    proxy's second visit; a refusal raises its problem."""
    if isinstance(outcome, Refused):
        raise refusal_problem(outcome)
    body = outcome.to_dict()
    return (200 if body.get("outcome") in ("completed", "registered") else 202), body


def problem_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the OpenAPI description of an endpoint."""
    from openjpki.web.api.models_out import Problem as ProblemModel

    text = {400: "Invalid input (not a question the counter can answer).",
            401: "No working API token where one is needed (WWW-Authenticate: Bearer; "
                 "error=\"invalid_token\" for a token that is malformed, unknown, revoked, "
                 "expired, or whose clerk is disabled or locked).",
            403: "The token's clerk may not do this: it is kept for a supervisor.",
            404: "Unknown id.",
            409: "Refused by a rule because of the current state (rule, message_ja, "
                 "message_en, opens_on).",
            422: "Refused by a rule because of what was brought or typed, or a body that "
                 "does not have the documented form (errors[].loc names the field).",
            503: "The store is not initialised or does not answer."}
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {c: {"model": ProblemModel, "description": text[c],
                "content": {"application/problem+json": ref}} for c in codes}
