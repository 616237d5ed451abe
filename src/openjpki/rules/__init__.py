"""JPKI rules (docs/RULES.md) as pure functions and values.

Every rule lives in one function that names what it decides and cites its rule number; the
other parts (authorities, card, counter, kiosk) call these instead of deciding again.
No I/O (except the explicit office-calendar loader), no wall clock: the day or the moment is
always an argument (dates and datetimes in Japan time).

Modules: ``decision`` (Allowed / Refused / SecondVisit), ``kinds`` (R1.1, R1.2), ``pins``
(R1.3, R1.4, R1.6, R1.7), ``dates`` (birthdays, ages, business days), ``expiry`` (R2),
``renewal`` (R3.1–R3.6), ``revocation`` (R3.7, R4), ``documents`` and ``eligibility`` (R1.5,
R5), ``holdings`` (what the certificates already on a card allow: R3.3, R3.7, R4.3, R4.5),
``calendars`` (R5.8, R6.4, R7.2; hours from ``offices.toml``), ``kiosk`` (R6, R7),
``text`` (what a register entry's name or address may hold, R1.2).
Everything public is re-exported here.
"""

from openjpki.rules.decision import (
    Allowed, Decision, LabelledEnum, Refused, SecondVisit, decision_to_dict,
)
from openjpki.rules.kinds import CertKind, PinKind
from openjpki.rules.text import (
    RegisterTextError, TextFault, check_register_text, register_text_fault,
    register_text_problem,
)
from openjpki.rules.pins import (
    AUTH_PIN_LENGTH, AUTH_PIN_RETRY_LIMIT, CARD_PIN_LENGTH, CARD_PIN_RETRY_LIMIT,
    SIGN_PIN_MAX_LENGTH, SIGN_PIN_MIN_LENGTH, SIGN_PIN_RETRY_LIMIT, PinCounter, PinTry,
    after_pin_change, after_pin_reset, after_pin_try, pin_refused_by_card, retry_limit,
    validate_auth_pin,
    validate_card_pin, validate_pin, validate_sign_pin,
)
from openjpki.rules.dates import (
    JST, add_business_days, age_on, birthday_in_year, clamp_day, is_business_day,
    is_year_end_closure, months_before, nth_birthday_after, to_jst,
)
from openjpki.rules.expiry import (
    CARD_ADULT_AGE, CERTIFICATE_BIRTHDAYS, LEGACY_JUKI_ISSUANCE_ENDED, CertificateExpiry,
    ExpiryBasis, auth_certificate_expiry, card_expiry, certificate_expiry,
    legacy_juki_certificate_request, sign_certificate_expiry,
)
from openjpki.rules.renewal import (
    ACTIVATION_BUSINESS_DAYS, FEE_WITH_PAID_CARD_REISSUE_JPY, ISSUANCE_FEE_JPY,
    RENEWAL_WINDOW_MONTHS, certificate_fee, convenience_services_from, expiry_notice_due,
    expiry_notice_on, renewal_decision, renewal_opens_on,
)
from openjpki.rules.revocation import (
    CardEnd, CertificateEnd, CertStatus, FactChange, HolderRequest, Reason,
    certificate_status_decision, certificates_ending, request_reason,
    revocation_for_replacement, revocations_for_card_end, revocations_for_fact_change,
    revocations_for_holder_request, status_transition,
)
from openjpki.rules.kinds import (
    BASIC_FOUR_FACTS, Fact, certificate_facts, certificate_purpose,
)
from openjpki.rules.documents import (
    DRIVING_HISTORY_ACCEPTED_FROM, ApplicantType, AuthorityProof, InquiryForm, PhotoId,
    PresentedId, Procedure, Requirement, inquiry_reference_decision, photo_id_problem,
)
from openjpki.rules.eligibility import (
    MAJORITY_AGE, SIGN_MIN_AGE, Applicant, Application, Holder, central_system_down,
    certificates_on_new_card, needs_legal_representative, pins_needed, procedure_decision,
    sign_eligible,
)
from openjpki.rules.holdings import (
    HeldCertificate, holder_request_decision, new_issuance_decision, new_issuance_kinds,
    reissue_after_change_decision, renewal_on_card_decision,
)
from openjpki.rules.calendars import (
    KIOSK_HOURS, Calendar, CalendarConfigError, Closures, Hours, Office, counter_open,
    default_calendar, kiosk_open, load_calendar, load_offices, next_opening, parse_calendar,
)
from openjpki.rules.kiosk import (
    CONVENIENCE_MIN_AGE, FACE_MATCH_LIMIT, RESERVATION_WINDOW, FaceMatch, after_face_match,
    convenience_issuance_decision, convenience_login_decision, kiosk_identity_decision,
    kiosk_reset_card_decision,
    kiosk_reset_decision, kiosk_reset_route, pin_for_kiosk_reset,
    residence_certificate_decision,
)

__all__ = [
    "RegisterTextError", "TextFault", "check_register_text", "register_text_fault",
    "register_text_problem",
    "ACTIVATION_BUSINESS_DAYS", "add_business_days", "after_face_match", "after_pin_change",
    "after_pin_reset", "after_pin_try", "age_on", "Allowed", "Applicant", "ApplicantType",
    "Application", "auth_certificate_expiry", "AUTH_PIN_LENGTH", "AUTH_PIN_RETRY_LIMIT",
    "AuthorityProof", "BASIC_FOUR_FACTS", "birthday_in_year", "Calendar", "CalendarConfigError",
    "CARD_ADULT_AGE", "card_expiry", "CARD_PIN_LENGTH", "CARD_PIN_RETRY_LIMIT", "CardEnd",
    "central_system_down", "CERTIFICATE_BIRTHDAYS", "certificate_expiry", "certificate_facts",
    "certificate_fee", "certificate_purpose", "certificate_status_decision", "CertificateEnd",
    "CertificateExpiry", "certificates_ending", "certificates_on_new_card", "CertKind",
    "CertStatus", "clamp_day", "Closures", "convenience_issuance_decision",
    "convenience_login_decision", "CONVENIENCE_MIN_AGE", "convenience_services_from",
    "counter_open", "Decision", "decision_to_dict", "default_calendar",
    "DRIVING_HISTORY_ACCEPTED_FROM", "expiry_notice_due", "expiry_notice_on", "ExpiryBasis",
    "FACE_MATCH_LIMIT", "FaceMatch", "Fact", "FactChange", "FEE_WITH_PAID_CARD_REISSUE_JPY",
    "HeldCertificate", "Holder", "holder_request_decision", "HolderRequest", "Hours",
    "inquiry_reference_decision", "InquiryForm", "is_business_day", "is_year_end_closure",
    "ISSUANCE_FEE_JPY", "JST", "KIOSK_HOURS", "kiosk_open", "kiosk_identity_decision", "kiosk_reset_card_decision",
    "kiosk_reset_decision", "kiosk_reset_route", "LabelledEnum",
    "legacy_juki_certificate_request", "LEGACY_JUKI_ISSUANCE_ENDED", "load_calendar",
    "load_offices", "MAJORITY_AGE", "months_before", "needs_legal_representative",
    "new_issuance_decision", "new_issuance_kinds", "next_opening", "nth_birthday_after",
    "Office", "parse_calendar", "photo_id_problem", "PhotoId", "pin_for_kiosk_reset",
    "pin_refused_by_card", "PinCounter", "PinKind", "pins_needed", "PinTry", "PresentedId",
    "Procedure", "procedure_decision", "Reason", "Refused", "reissue_after_change_decision",
    "renewal_decision", "renewal_on_card_decision", "renewal_opens_on", "RENEWAL_WINDOW_MONTHS",
    "request_reason", "Requirement", "RESERVATION_WINDOW", "residence_certificate_decision",
    "retry_limit", "revocation_for_replacement", "revocations_for_card_end",
    "revocations_for_fact_change", "revocations_for_holder_request", "SecondVisit",
    "sign_certificate_expiry", "sign_eligible", "SIGN_MIN_AGE", "SIGN_PIN_MAX_LENGTH",
    "SIGN_PIN_MIN_LENGTH", "SIGN_PIN_RETRY_LIMIT", "status_transition", "to_jst",
    "validate_auth_pin", "validate_card_pin", "validate_pin", "validate_sign_pin",
]
