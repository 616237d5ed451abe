"""PIN forms and the consecutive-failure counter (RULES.md R1.3, R1.4, R1.6, R1.7, R6.5).

Forms:
- SIGN (R1.3): 6–16 characters, only ``A``–``Z`` and ``0``–``9``, at least one letter and one
  digit. **Decision**: lowercase letters are refused, not folded to uppercase: the seeds say
  英数字 (大文字のみ) (000) and 英字は大文字のAからZまで (004), and a silently changed PIN is
  a PIN the holder does not know. Full-width characters and spaces are refused too.
- AUTH (R1.3): exactly 4 ASCII digits.
- CARD, the resident-registry PIN 住民基本台帳用暗証番号 (R1.6): exactly 4 ASCII digits.

Counter (R1.4, R1.7): a wrong PIN adds one to the consecutive-failure count; at the limit
(SIGN 5, AUTH 3) the certificate locks. A correct PIN resets the count. A locked PIN refuses
every try, even the right one, until a PIN reset (初期化, at the counter or the kiosk, R6.5),
which clears the lock and the count. A PIN *change* needs the current PIN (R1.7).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from openjpki.rules.decision import Allowed, Refused
from openjpki.rules.kinds import PinKind

SIGN_PIN_MIN_LENGTH = 6
SIGN_PIN_MAX_LENGTH = 16
AUTH_PIN_LENGTH = 4
CARD_PIN_LENGTH = 4

SIGN_PIN_RETRY_LIMIT = 5
"""R1.4: consecutive wrong SIGN PINs before the SIGN certificate locks."""
AUTH_PIN_RETRY_LIMIT = 3
"""R1.4: consecutive wrong AUTH PINs before the AUTH certificate locks."""
CARD_PIN_RETRY_LIMIT = 3
"""Not in the seeds (public knowledge of the card): the resident-registry PIN locks after 3."""

_RETRY_LIMITS = {PinKind.SIGN: SIGN_PIN_RETRY_LIMIT, PinKind.AUTH: AUTH_PIN_RETRY_LIMIT,
                 PinKind.CARD: CARD_PIN_RETRY_LIMIT}

_SIGN_CHARS = re.compile(r"^[A-Z0-9]*$")
_ASCII_DIGITS = re.compile(r"^[0-9]*$")


def retry_limit(kind: "PinKind | str") -> int:
    """R1.4: how many consecutive wrong PINs of this kind lock it."""
    return _RETRY_LIMITS[PinKind.parse(kind)]


def validate_sign_pin(value: str) -> Allowed | Refused:
    """R1.3: is ``value`` a well-formed SIGN PIN (6–16 of A–Z/0–9, ≥1 letter, ≥1 digit)?"""
    _require_str(value)
    if any("a" <= c <= "z" for c in value):
        return Refused(
            "R1.3",
            "署名用電子証明書の暗証番号の英字は大文字 (A–Z) のみです。小文字は使えません。",
            "The signature PIN takes uppercase letters (A–Z) only; lowercase letters are "
            "not allowed.")
    if not _SIGN_CHARS.match(value):
        return Refused(
            "R1.3",
            "署名用電子証明書の暗証番号に使える文字は英大文字 (A–Z) と数字 (0–9) だけです。",
            "The signature PIN may contain only uppercase letters A–Z and digits 0–9.")
    if not SIGN_PIN_MIN_LENGTH <= len(value) <= SIGN_PIN_MAX_LENGTH:
        return Refused(
            "R1.3",
            f"署名用電子証明書の暗証番号は{SIGN_PIN_MIN_LENGTH}文字以上"
            f"{SIGN_PIN_MAX_LENGTH}文字以下です（入力は{len(value)}文字）。",
            f"The signature PIN must be {SIGN_PIN_MIN_LENGTH} to {SIGN_PIN_MAX_LENGTH} "
            f"characters long (got {len(value)}).")
    has_letter = any(c.isalpha() for c in value)
    has_digit = any(c.isdigit() for c in value)
    if not (has_letter and has_digit):
        missing_ja = "英字" if not has_letter else "数字"
        missing_en = "letter" if not has_letter else "digit"
        return Refused(
            "R1.3",
            f"署名用電子証明書の暗証番号には英字と数字をそれぞれ1文字以上含めてください"
            f"（{missing_ja}がありません）。",
            f"The signature PIN needs at least one letter and at least one digit "
            f"(no {missing_en} given).")
    return Allowed("R1.3", "署名用電子証明書の暗証番号として使えます。",
                   "A valid signature PIN.")


def _four_digits(value: str, rule: str, name_ja: str, name_en: str) -> Allowed | Refused:
    _require_str(value)
    if not (_ASCII_DIGITS.match(value) and len(value) == 4):
        return Refused(rule, f"{name_ja}は数字4桁です。",
                       f"The {name_en} must be exactly 4 digits (0–9).")
    return Allowed(rule, f"{name_ja}として使えます。", f"A valid {name_en}.")


def validate_auth_pin(value: str) -> Allowed | Refused:
    """R1.3: is ``value`` a well-formed AUTH PIN (exactly 4 digits)?"""
    return _four_digits(value, "R1.3", "利用者証明用電子証明書の暗証番号",
                        "user authentication PIN")


def validate_card_pin(value: str) -> Allowed | Refused:
    """R1.6: is ``value`` a well-formed resident-registry PIN 住民基本台帳用暗証番号 (4 digits)?"""
    return _four_digits(value, "R1.6", "住民基本台帳用暗証番号", "resident-registry PIN")


def validate_pin(kind: "PinKind | str", value: str) -> Allowed | Refused:
    """R1.3 (sign, auth) / R1.6 (card): is ``value`` a well-formed PIN of ``kind``?"""
    kind = PinKind.parse(kind)
    if kind is PinKind.SIGN:
        return validate_sign_pin(value)
    if kind is PinKind.AUTH:
        return validate_auth_pin(value)
    return validate_card_pin(value)


def _require_str(value: object) -> None:
    if not isinstance(value, str):
        raise TypeError(f"a PIN is a string, not {type(value).__name__}")


@dataclass(frozen=True)
class PinCounter:
    """The consecutive-failure state of one PIN (R1.4, R1.7)."""

    kind: PinKind
    failures: int = 0
    locked: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", PinKind.parse(self.kind))
        limit = retry_limit(self.kind)
        if not 0 <= self.failures <= limit:
            raise ValueError(f"failures must be 0..{limit} for a {self.kind.value} PIN")

    @property
    def limit(self) -> int:
        return retry_limit(self.kind)

    @property
    def remaining(self) -> int:
        """Tries left before the lock (0 when locked)."""
        return 0 if self.locked else self.limit - self.failures


@dataclass(frozen=True)
class PinTry:
    """The outcome of presenting a PIN: the counter afterwards, and the decision."""

    counter: PinCounter
    decision: Allowed | Refused

    @property
    def accepted(self) -> bool:
        return self.decision.allowed


def _locked_refusal(kind: PinKind) -> Refused:
    return Refused(
        "R1.7",
        f"{kind.ja}はロックされています。暗証番号の初期化（再設定）が必要です。",
        f"The {kind.en} is locked; only a PIN reset unlocks it.")


def after_pin_try(counter: PinCounter, correct: bool) -> PinTry:
    """R1.4, R1.7: the counter after one PIN try.

    Locked: refused whatever was entered, state unchanged (R1.7). Correct: accepted, the
    count goes back to 0 (R1.7). Wrong: one more failure; at the limit the PIN locks (R1.4)."""
    kind = counter.kind
    if counter.locked:
        return PinTry(counter, _locked_refusal(kind))
    if correct:
        return PinTry(replace(counter, failures=0),
                      Allowed("R1.7", f"{kind.ja}が一致しました。", f"The {kind.en} is correct."))
    failures = counter.failures + 1
    if failures >= counter.limit:
        return PinTry(
            replace(counter, failures=counter.limit, locked=True),
            Refused("R1.4",
                    f"{kind.ja}が{counter.limit}回連続で誤っているため、ロックされました。"
                    "暗証番号の初期化（再設定）が必要です。",
                    f"The {kind.en} was wrong {counter.limit} times in a row and is now "
                    "locked; a PIN reset is needed."))
    left = counter.limit - failures
    return PinTry(
        replace(counter, failures=failures),
        Refused("R1.4", f"{kind.ja}が誤っています。あと{left}回誤るとロックされます。",
                f"Wrong {kind.en}; {left} more wrong tr{'y' if left == 1 else 'ies'} "
                "will lock it."))


def pin_refused_by_card(kind: "PinKind | str", tries_left: int | None = None, *,
                        locked: bool = False) -> Refused:
    """R1.4, R1.7: the refusal when a card (or token) rejected a PIN of ``kind``, in the
    same words as :func:`after_pin_try`.

    ``locked``: the PIN was already locked (R1.7). Otherwise the PIN was wrong and
    ``tries_left`` is what the card reports after this try (0: the try locked it, R1.4).
    ``None`` when the card could not be asked: the try is counted as the first wrong one."""
    kind = PinKind.parse(kind)
    limit = retry_limit(kind)
    if locked:
        return _locked_refusal(kind)
    left = limit if tries_left is None else tries_left
    failures_before = min(limit - 1, max(0, limit - left - 1))
    decision = after_pin_try(PinCounter(kind, failures_before), correct=False).decision
    assert isinstance(decision, Refused)
    return decision


def after_pin_change(counter: PinCounter, current_correct: bool, new_pin: str) -> PinTry:
    """R1.7: a PIN change needs the current PIN (and a locked PIN cannot be changed, only
    reset). The new PIN must have the right form (R1.3/R1.6); a malformed new PIN is refused
    before the current one is tried, so it costs no try."""
    form = validate_pin(counter.kind, new_pin)
    if not form.allowed:
        return PinTry(counter, form)
    tried = after_pin_try(counter, current_correct)
    if not tried.accepted:
        return tried
    kind = counter.kind
    return PinTry(tried.counter, Allowed("R1.7", f"{kind.ja}を変更しました。",
                                         f"The {kind.en} was changed."))


def after_pin_reset(counter: PinCounter, new_pin: str) -> PinTry:
    """R1.7, R6.5: a PIN reset (初期化) sets a new PIN of the right form and clears the lock
    and the failure count. Who may reset, and where, is decided by the procedure rules
    (counter: R5.1; kiosk: R6.1–R6.3)."""
    form = validate_pin(counter.kind, new_pin)
    if not form.allowed:
        return PinTry(counter, form)
    kind = counter.kind
    return PinTry(PinCounter(kind), Allowed("R6.5", f"{kind.ja}を初期化しました。",
                                            f"The {kind.en} was reset and unlocked."))
