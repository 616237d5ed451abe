"""The municipal counter (窓口): residents, cards, applications, letters, and every counter
procedure of R5.1 as a use case in one transaction (RULES.md §5).

    ctx = CounterContext.from_settings(settings)          # or built directly in tests
    r = add_resident(ctx, ResidentInput(...), now)
    out = issue_new_card(ctx, r["id"], PinEntry(card="1234", sign="ABC123", auth="5678"),
                         now=now)
    if isinstance(out, Refused): print(out.rule, out.message_ja)

Building blocks for the API and a deferred queue (R5.9): :func:`apply` (accept and carry
out in one visit), :func:`accept` (check and record), :func:`execute` (carry out later).
"""

from openjpki.services.counter.cardend import end_card
from openjpki.services.counter.context import (
    ConfigError, CounterContext, Municipality, load_counter_config,
)
from openjpki.services.counter.procedures import (
    accept, apply, change_pin, execute, hold, issue_certificates, issue_new_card, reissue_sign,
    renew, request_of, reset_pin, revoke,
)
from openjpki.services.counter.requests import (
    ApplicantInput, CounterRequest, InquiryAnswer, NO_PINS, PinEntry,
)
from openjpki.services.counter.residents import (
    InputError, NotFound, ResidentInput, add_resident, find_residents, resident_dict,
    show_resident,
)
from openjpki.services.counter.results import (
    Accepted, Completed, EndedCertificate, InquiryMailed, IssuedCertificate, Offer, Outcome,
)
from openjpki.services.counter.secrets import SecretBox

__all__ = [
    "Accepted", "ApplicantInput", "Completed", "ConfigError", "CounterContext",
    "CounterRequest", "EndedCertificate", "InputError", "InquiryAnswer", "InquiryMailed",
    "IssuedCertificate", "Municipality", "NO_PINS", "NotFound", "Offer", "Outcome",
    "PinEntry", "ResidentInput", "SecretBox", "accept", "add_resident", "apply",
    "change_pin", "end_card", "execute", "find_residents", "hold", "issue_certificates",
    "issue_new_card", "load_counter_config", "reissue_sign", "renew", "request_of",
    "reset_pin", "resident_dict", "revoke", "show_resident",
]
