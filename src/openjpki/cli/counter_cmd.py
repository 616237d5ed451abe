"""``openjpki resident …``, ``counter …``, ``register …`` and ``audit verify``: the municipal
counter from the command line. Thin: parse, call services.counter / services.register /
services.audit, print (``--json`` for the service's own JSON). The procedures go through the
counter's one front door, :func:`openjpki.services.deferred.submit`, as the API and the
pages do, so ``authorities off`` holds here too. A refusal prints its rule and exits 1; bad
input exits 2; work queued for later (R5.9: the authorities are unavailable) exits 3. The wall clock is read here only, unless ``--at`` gives the
moment (scripts and tests replay a day at the counter that way)."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Iterator, List, Optional

import typer

from openjpki.cli.app import app, fail, print_json, settings
from openjpki.cli.counter_say import say as _say
from openjpki.cli.counter_say import say_outcome, say_register, say_resident
from openjpki.cli.secrets_input import PIN_STDIN, Pins

resident_app = typer.Typer(help="The resident register: add, show, list.", no_args_is_help=True)
counter_app = typer.Typer(help="Counter procedures (窓口, R5.1).", no_args_is_help=True)
register_app = typer.Typer(help="Resident-register events (異動) and their effect on SIGN "
                           "(R4.1).", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(resident_app, name="resident")
app.add_typer(counter_app, name="counter")
app.add_typer(register_app, name="register")
app.add_typer(audit_app, name="audit")

KINDS = ("sign", "auth")
APPLICANTS = ("holder", "legal_representative", "voluntary_proxy")
REASONS = ("voluntary", "lost_card", "key_compromise", "destroyed_before_use")

EXIT_QUEUED = 3  # accepted and queued (R5.9), not done yet: `openjpki worker` finishes it

# Options shared by the procedures. Ids are what the store holds (32-bit): a larger number
# is a one-line usage error, never a database overflow.
MAX_ID = 2 ** 31 - 1
RESIDENT = typer.Argument(..., min=1, max=MAX_ID, metavar="RESIDENT", help="Resident id.")
JSON = typer.Option(False, "--json", help="Print the answer as JSON.")
AT = typer.Option(None, "--at", help="The moment, ISO 8601 (default now; naive = Japan time).")
OFFICE = typer.Option(None, "--office", help="Office id from the calendar (default: the "
                      "configured default office).")
APPLICANT = typer.Option("holder", "--applicant", help="holder, legal_representative or "
                         "voluntary_proxy (R5.3).")
PHOTO_ID = typer.Option(None, "--photo-id", help="KIND[:VALID_UNTIL] of a photo ID shown, "
                        "e.g. drivers_licence:2030-01-01 (R5.7); repeatable.")
PROOF = typer.Option(None, "--proof", help="family_register_certificate or "
                     "guardianship_registry_certificate (R5.3); repeatable.")
REPRESENTATIVE = typer.Option(None, "--representative", min=1, max=MAX_ID,
                              help="Resident id of the representative or proxy, when on "
                              "this register.")
HOLDER_PRESENT = typer.Option(False, "--holder-present", help="The holder came too (R5.6).")
ATTORNEY = typer.Option(False, "--letter-of-attorney", help="委任状 brought (R5.5 b).")
INQUIRY = typer.Option(None, "--inquiry", help="Reference of the inquiry form brought back "
                       "(R5.4 visit 2).")
FORM_INCOMPLETE = typer.Option(False, "--form-incomplete", help="The form is not filled in.")
FORM_UNSEALED = typer.Option(False, "--form-unsealed", help="The PINs on it are not sealed.")
NOTICE_FORM = typer.Option(False, "--expiry-notice-form", help="The form came with the "
                           "expiry notice (R5.5 a).")
WITHOUT_CARD = typer.Option(False, "--without-card", help="The card is not on the counter.")
KIND_OPT = typer.Option(None, "--kind", help="sign or auth; repeatable (default: the "
                        "procedure's).")
CARD_PIN = typer.Option(None, "--card-pin", help="Resident-registry PIN 住民基本台帳用暗証番号 "
                        "(4 digits, R1.6; or $OPENJPKI_CARD_PIN, or --pin-stdin).")
SIGN_PIN = typer.Option(None, "--sign-pin", help="SIGN PIN to set (6-16 A-Z/0-9, R1.3; or "
                        "$OPENJPKI_SIGN_PIN, or --pin-stdin).")
AUTH_PIN = typer.Option(None, "--auth-pin", help="AUTH PIN to set (4 digits, R1.3; or "
                        "$OPENJPKI_AUTH_PIN, or --pin-stdin).")


def moment_of(ctx: typer.Context, at: Optional[str]) -> datetime:
    """``--at``, or now: the wall clock, or in sandbox mode the sandbox's clock (``openjpki
    sandbox time …``), so the renewal window and office hours can be tried at any moment."""
    if at is None:
        real = datetime.now(timezone.utc)  # the outermost layer reads the clock
        try:
            from openjpki.services.sandbox_clock import read_clock
            from openjpki.services.sandbox_mode import resolve_mode
            from openjpki.store import Store

            home = settings(ctx)
            if resolve_mode(home).sandbox:
                store = Store.open(home.effective_database_url)
                try:
                    return read_clock(store).now(real)
                finally:
                    store.dispose()
        except Exception:  # noqa: BLE001 — no sandbox settings in this store: the wall clock
            pass
        return real
    from openjpki.rules import to_jst

    try:
        return to_jst(datetime.fromisoformat(at))
    except ValueError:
        fail(f"--at must be an ISO 8601 date-time, e.g. 2025-04-01T10:00 (not {at!r})")


def _date(value: Optional[str], option: str) -> Optional[date]:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option} must be a date YYYY-MM-DD (not {value!r})")


def _choices(values: Optional[List[str]], allowed: tuple[str, ...], option: str) -> list[str]:
    for v in values or []:
        if v not in allowed:
            fail(f"{option} must be one of: {', '.join(allowed)} (not {v!r})")
    return list(values or [])


@contextmanager
def counter_session(ctx: typer.Context) -> Iterator:
    """The counter of this home; service errors become one-line messages (exit 2)."""
    from openjpki.card import CardError, CardStoreError
    from openjpki.services.authority import AuthorityError
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.counter import ConfigError, CounterContext, InputError
    from openjpki.services.counter.secrets import SecretBoxError

    try:
        c = CounterContext.from_settings(settings(ctx), actor="cli")
    except (AuthorityError, SetupError, ConfigError, SecretBoxError) as e:
        fail(str(e))
    try:
        yield c
    except (InputError, ValueError, CardError, CardStoreError, AuthorityError,
            SecretBoxError) as e:
        fail(str(e))
    finally:
        c.close()


@contextmanager
def _front_door(ctx: typer.Context) -> Iterator:
    """(counter, authority health) of this home, as the API and the pages have them: the
    authorities behind their availability guard (``authorities off``, R5.9)."""
    from openjpki.card import CardError, CardStoreError
    from openjpki.services.authority import AuthorityError, NotInitialised
    from openjpki.services.authority_setup import SetupError
    from openjpki.services.counter import ConfigError, InputError
    from openjpki.services.counter.secrets import SecretBoxError
    from openjpki.services.deferred_health import guarded_counter

    try:
        c, health = guarded_counter(settings(ctx), actor="cli")
    except (NotInitialised, AuthorityError, SetupError, ConfigError, SecretBoxError) as e:
        fail(str(e))
    try:
        yield c, health
    except (InputError, ValueError, CardError, CardStoreError, AuthorityError,
            SecretBoxError) as e:
        fail(str(e))
    finally:
        c.close()


def _photo_ids(values: Optional[List[str]]) -> tuple:
    from openjpki.rules.documents import PresentedId

    out = []
    for v in values or []:
        kind, _, until = v.partition(":")
        out.append(PresentedId(kind, valid_until=_date(until or None, "--photo-id")))
    return tuple(out)


def _applicant(applicant: str, photo_id, proof, representative, holder_present, attorney,
               inquiry, incomplete, unsealed, notice_form, without_card):
    from openjpki.rules.documents import AuthorityProof
    from openjpki.services.counter import ApplicantInput, InquiryAnswer

    _choices([applicant], APPLICANTS, "--applicant")
    proofs = _choices(proof, tuple(p.value for p in AuthorityProof), "--proof")
    form = None
    if inquiry or notice_form or incomplete or unsealed:
        form = InquiryAnswer(reference=inquiry, complete=not incomplete, sealed=not unsealed,
                             from_expiry_notice=notice_form)
    return ApplicantInput(type=applicant, ids=_photo_ids(photo_id), authority_proofs=proofs,
                          representative_id=representative, holder_present=holder_present,
                          letter_of_attorney=attorney, inquiry=form,
                          card_presented=not without_card)


def _print_outcome(outcome, as_json: bool) -> None:
    """Print a result; a refusal exits 1 (CLI.md), work queued for later exits 3 (R5.9)."""
    if as_json:
        print_json(outcome.to_dict())
    else:
        say_outcome(outcome)
    if outcome.outcome == "refused":
        raise typer.Exit(1)
    if outcome.outcome == "deferred":
        raise typer.Exit(EXIT_QUEUED)


# --- residents ---------------------------------------------------------------------------

@resident_app.command("add")
def resident_add(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="Surname, U+3000, given name."),
    address: str = typer.Option(..., "--address", help="From the prefecture on."),
    birth: str = typer.Option(..., "--birth", help="Date of birth YYYY-MM-DD."),
    sex: str = typer.Option(..., "--sex", help="male, female or unknown."),
    kana: Optional[str] = typer.Option(None, "--kana"),
    former_surname: Optional[str] = typer.Option(None, "--former-surname", help="旧氏."),
    alias: Optional[str] = typer.Option(None, "--alias", help="通称."),
    household: Optional[str] = typer.Option(None, "--household", help="Household id."),
    relationship: str = typer.Option("head", "--relationship", help="To the household head."),
    honseki_here: bool = typer.Option(False, "--honseki-here", help="本籍 here (R5.3)."),
    adult_ward: bool = typer.Option(False, "--adult-ward", help="成年被後見人 (R1.5)."),
    stay_until: Optional[str] = typer.Option(None, "--stay-until", help="Foreign resident: "
                                             "end of the period of stay (R2.3)."),
    foreign: bool = typer.Option(False, "--foreign", help="Foreign resident."),
    at: Optional[str] = AT, as_json: bool = JSON,
) -> None:
    """Enter a person on this municipality's register."""
    from openjpki.services.counter import ResidentInput, add_resident

    data = ResidentInput(
        name=name, address=address, birth_date=_date(birth, "--birth"), sex=sex,
        name_kana=kana, former_surname=former_surname, alias=alias, household_id=household,
        relationship=relationship, honseki_here=honseki_here, adult_ward=adult_ward,
        foreign_resident=foreign or stay_until is not None,
        stay_until=_date(stay_until, "--stay-until"))
    with counter_session(ctx) as c:
        r = add_resident(c, data, moment_of(ctx, at))
    if as_json:
        print_json(r)
    else:
        _say(f"resident {r['id']}: {r['name']} ({r['address']})")


@resident_app.command("show")
def resident_show(ctx: typer.Context, resident: int = RESIDENT,
                  as_json: bool = JSON) -> None:
    """A resident with their cards and certificates."""
    from openjpki.services.counter import show_resident
    from openjpki.services.counter.letters import letter_dict, letters_of

    with counter_session(ctx) as c:
        r = show_resident(c, resident)
        with c.store.transaction() as s:
            r["letters"] = [letter_dict(x) for x in letters_of(s, resident)]
    if as_json:
        print_json(r)
        return
    say_resident(r)


@resident_app.command("list")
def resident_list(ctx: typer.Context,
                  name: Optional[str] = typer.Option(None, "--name", help="Name contains."),
                  include_gone: bool = typer.Option(False, "--all", help="Include people no "
                                                    "longer on the register."),
                  as_json: bool = JSON) -> None:
    """Residents on the register."""
    from openjpki.services.counter import find_residents

    with counter_session(ctx) as c:
        rows = find_residents(c, name=name, on_register=None if include_gone else True)
    if as_json:
        print_json(rows)
        return
    for r in rows:
        _say(f"{r['id']}\t{r['name']}\t{r['birth_date']}\t{r['address']}")


# --- counter procedures -------------------------------------------------------------------

def _submit(ctx: typer.Context, req_of, pins, now: datetime, as_json: bool) -> None:
    """A counter procedure through the counter's one front door,
    :func:`openjpki.services.deferred.submit`, as the API and the pages call it: carried out
    at once, or queued (R5.9) when it needs the authorities and they are unavailable."""
    from openjpki.services.counter import CounterRequest
    from openjpki.services.deferred import submit

    with _front_door(ctx) as (c, health):
        req = req_of(CounterRequest)
        outcome = submit(c, health, req, pins, now=now)
    _print_outcome(outcome, as_json)


def _run(ctx: typer.Context, call, as_json: bool) -> None:
    with counter_session(ctx) as c:
        outcome = call(c)
    _print_outcome(outcome, as_json)


def _pins(pin_stdin: bool, card_pin=None, sign_pin=None, auth_pin=None, *,
          sign: bool = True, auth: bool = True):
    """The PINs typed at the counter, from --pin-stdin (card, sign, auth: one line each),
    the options (with a warning) or $OPENJPKI_CARD_PIN / _SIGN_PIN / _AUTH_PIN."""
    from openjpki.services.counter import PinEntry

    p = Pins(pin_stdin)
    card = p.get(card_pin, "--card-pin", "resident-registry PIN", required=False)
    sign_value = p.get(sign_pin, "--sign-pin", "SIGN PIN", required=False) if sign else None
    auth_value = p.get(auth_pin, "--auth-pin", "AUTH PIN", required=False) if auth else None
    return PinEntry(card=card, sign=sign_value, auth=auth_value)


@counter_app.command("issue")
def counter_issue(
    ctx: typer.Context, resident: int = RESIDENT,
    new_card: bool = typer.Option(False, "--new-card", help="Hand over a new card (R5.10)."),
    kind: Optional[List[str]] = KIND_OPT,
    decline: Optional[List[str]] = typer.Option(None, "--decline", help="Certificate "
                                                "declined on the card application (R5.10)."),
    sign_exception: bool = typer.Option(False, "--sign-exception", help="SIGN asked for as "
                                        "the R5.6 exception."),
    paid: bool = typer.Option(False, "--paid-reissue", help="The new card is a paid re-issue "
                              "(lost card, paid replacement): R3.6's fee."),
    card_pin: Optional[str] = CARD_PIN, sign_pin: Optional[str] = SIGN_PIN,
    auth_pin: Optional[str] = AUTH_PIN, applicant: str = APPLICANT,
    photo_id: Optional[List[str]] = PHOTO_ID, proof: Optional[List[str]] = PROOF,
    representative: Optional[int] = REPRESENTATIVE, holder_present: bool = HOLDER_PRESENT,
    letter_of_attorney: bool = ATTORNEY, inquiry: Optional[str] = INQUIRY,
    form_incomplete: bool = FORM_INCOMPLETE, form_unsealed: bool = FORM_UNSEALED,
    expiry_notice_form: bool = NOTICE_FORM, office: Optional[str] = OFFICE,
    at: Optional[str] = AT, as_json: bool = JSON, pin_stdin: bool = PIN_STDIN,
) -> None:
    """新規発行: a new card with its certificates, or a certificate on the holder's card."""
    kinds = _choices(kind, KINDS, "--kind")
    declined = _choices(decline, KINDS, "--decline")
    who = _applicant(applicant, photo_id, proof, representative, holder_present,
                     letter_of_attorney, inquiry, form_incomplete, form_unsealed,
                     expiry_notice_form, False)
    if (declined or paid) and not new_card:
        fail(f"{'--decline' if declined else '--paid-reissue'} goes with --new-card")
    pins, now = _pins(pin_stdin, card_pin, sign_pin, auth_pin), moment_of(ctx, at)
    _submit(ctx, lambda R: R("new_issuance", resident, kinds=tuple(kinds), new_card=new_card,
                             declined=tuple(declined), applicant=who, office=office,
                             sign_exception=sign_exception, paid_card_reissue=paid),
            pins, now, as_json)


@counter_app.command("renew")
def counter_renew(
    ctx: typer.Context, resident: int = RESIDENT,
    kind: Optional[List[str]] = KIND_OPT, card_pin: Optional[str] = CARD_PIN,
    sign_pin: Optional[str] = SIGN_PIN, auth_pin: Optional[str] = AUTH_PIN,
    applicant: str = APPLICANT, photo_id: Optional[List[str]] = PHOTO_ID,
    proof: Optional[List[str]] = PROOF, representative: Optional[int] = REPRESENTATIVE,
    holder_present: bool = HOLDER_PRESENT, inquiry: Optional[str] = INQUIRY,
    form_incomplete: bool = FORM_INCOMPLETE, form_unsealed: bool = FORM_UNSEALED,
    expiry_notice_form: bool = NOTICE_FORM, office: Optional[str] = OFFICE,
    at: Optional[str] = AT, as_json: bool = JSON, pin_stdin: bool = PIN_STDIN,
) -> None:
    """更新 (R3.1–R3.3): new keys on the card; the old certificates superseded (R3.7)."""
    kinds = _choices(kind, KINDS, "--kind")
    who = _applicant(applicant, photo_id, proof, representative, holder_present, False,
                     inquiry, form_incomplete, form_unsealed, expiry_notice_form, False)
    pins, now = _pins(pin_stdin, card_pin, sign_pin, auth_pin), moment_of(ctx, at)
    _submit(ctx, lambda R: R("renewal", resident, kinds=tuple(kinds), applicant=who,
                             office=office), pins, now, as_json)


@counter_app.command("reissue-sign")
def counter_reissue_sign(
    ctx: typer.Context, resident: int = RESIDENT,
    card_pin: Optional[str] = CARD_PIN, sign_pin: Optional[str] = SIGN_PIN,
    applicant: str = APPLICANT, photo_id: Optional[List[str]] = PHOTO_ID,
    proof: Optional[List[str]] = PROOF, representative: Optional[int] = REPRESENTATIVE,
    letter_of_attorney: bool = ATTORNEY, inquiry: Optional[str] = INQUIRY,
    office: Optional[str] = OFFICE, at: Optional[str] = AT, as_json: bool = JSON,
    pin_stdin: bool = PIN_STDIN,
) -> None:
    """SIGN again after a change of facts (R4.5), with the new facts."""
    who = _applicant(applicant, photo_id, proof, representative, False, letter_of_attorney,
                     inquiry, False, False, False, False)
    pins, now = _pins(pin_stdin, card_pin, sign_pin, auth=False), moment_of(ctx, at)
    _submit(ctx, lambda R: R("reissue_after_change", resident, kinds=("sign",),
                             applicant=who, office=office), pins, now, as_json)


@counter_app.command("pin-change")
def counter_pin_change(
    ctx: typer.Context, resident: int = RESIDENT,
    kind: str = typer.Option(..., "--kind", help="sign or auth."),
    current: Optional[str] = typer.Option(None, "--current", help="The PIN in force (R1.7; "
                                          "or $OPENJPKI_CURRENT_PIN, --pin-stdin, a prompt)."),
    new: Optional[str] = typer.Option(None, "--new", help="The new PIN (R1.3; or "
                                      "$OPENJPKI_NEW_PIN, --pin-stdin, a prompt)."),
    office: Optional[str] = OFFICE, at: Optional[str] = AT, as_json: bool = JSON,
    pin_stdin: bool = PIN_STDIN,
) -> None:
    """暗証番号の変更 (R1.7). --pin-stdin reads the current PIN, then the new one."""
    from openjpki.services.counter import PinEntry

    _choices([kind], KINDS, "--kind")
    p = Pins(pin_stdin)
    current = p.get(current, "--current", "current PIN")
    new = p.get(new, "--new", "new PIN")
    now = moment_of(ctx, at)
    pins = PinEntry(**{kind: new, f"current_{kind}": current})
    _submit(ctx, lambda R: R("pin_change", resident, kinds=(kind,), office=office), pins, now,
            as_json)


@counter_app.command("pin-reset")
def counter_pin_reset(
    ctx: typer.Context, resident: int = RESIDENT,
    kind: str = typer.Option(..., "--kind", help="sign or auth."),
    card_pin: Optional[str] = typer.Option(None, "--card-pin", help="住民基本台帳用暗証番号 "
                                           "(R1.6; or $OPENJPKI_CARD_PIN, --pin-stdin, a "
                                           "prompt)."),
    new: Optional[str] = typer.Option(None, "--new", help="The new PIN (R1.3; or "
                                      "$OPENJPKI_NEW_PIN, --pin-stdin, a prompt)."),
    applicant: str = APPLICANT, photo_id: Optional[List[str]] = PHOTO_ID,
    proof: Optional[List[str]] = PROOF, representative: Optional[int] = REPRESENTATIVE,
    office: Optional[str] = OFFICE, at: Optional[str] = AT, as_json: bool = JSON,
    pin_stdin: bool = PIN_STDIN,
) -> None:
    """暗証番号の初期化・ロック解除 (R1.6, R6.5). --pin-stdin reads the resident-registry
    PIN, then the new one."""
    from openjpki.services.counter import PinEntry

    _choices([kind], KINDS, "--kind")
    p = Pins(pin_stdin)
    card_pin = p.get(card_pin, "--card-pin", "resident-registry PIN")
    new = p.get(new, "--new", "new PIN")
    who = _applicant(applicant, photo_id, proof, representative, False, False, None, False,
                     False, False, False)
    now = moment_of(ctx, at)
    pins = PinEntry(card=card_pin, **{kind: new})
    _submit(ctx, lambda R: R("pin_reset", resident, kinds=(kind,), applicant=who,
                             office=office), pins, now, as_json)


@counter_app.command("revoke")
def counter_revoke(
    ctx: typer.Context, resident: int = RESIDENT,
    kind: Optional[List[str]] = KIND_OPT,
    reason: str = typer.Option("voluntary", "--reason", help=", ".join(REASONS) + " (R4.3)."),
    without_card: bool = WITHOUT_CARD, applicant: str = APPLICANT,
    photo_id: Optional[List[str]] = PHOTO_ID, representative: Optional[int] = REPRESENTATIVE,
    office: Optional[str] = OFFICE, at: Optional[str] = AT, as_json: bool = JSON,
) -> None:
    """失効 on the holder's request (R4.3); ``lost_card`` also marks the card lost."""
    from openjpki.services.counter import NO_PINS

    kinds = _choices(kind, KINDS, "--kind")
    _choices([reason], REASONS, "--reason")
    who = _applicant(applicant, photo_id, None, representative, False, False, None, False,
                     False, False, without_card)
    now = moment_of(ctx, at)
    _submit(ctx, lambda R: R("revocation", resident, kinds=tuple(kinds), reason=reason,
                             applicant=who, office=office), NO_PINS, now, as_json)


@counter_app.command("hold")
def counter_hold(
    ctx: typer.Context, resident: int = RESIDENT,
    kind: Optional[List[str]] = KIND_OPT, without_card: bool = WITHOUT_CARD,
    photo_id: Optional[List[str]] = PHOTO_ID, office: Optional[str] = OFFICE,
    at: Optional[str] = AT, as_json: bool = JSON,
) -> None:
    """一時保留 (R4.3): certificateHold at once, never released, revoked later."""
    from openjpki.services.counter import NO_PINS

    kinds = _choices(kind, KINDS, "--kind")
    who = _applicant("holder", photo_id, None, None, False, False, None, False, False, False,
                     without_card)
    now = moment_of(ctx, at)
    _submit(ctx, lambda R: R("hold", resident, kinds=tuple(kinds), applicant=who,
                             office=office), NO_PINS, now, as_json)


@counter_app.command("card-end")
def counter_card_end(
    ctx: typer.Context, resident: int = RESIDENT,
    end: str = typer.Option(..., "--end", help="returned, voided, lost or expired (R4.4)."),
    office: Optional[str] = OFFICE, at: Optional[str] = AT, as_json: bool = JSON,
) -> None:
    """The card ends (返納, 廃止, 紛失, 期限切れ); both certificates end with it (R4.4)."""
    from openjpki.services.counter import end_card

    _choices([end], ("returned", "voided", "lost", "expired"), "--end")
    now = moment_of(ctx, at)
    _run(ctx, lambda c: end_card(c, resident, end, now=now, office=office), as_json)


# --- register events ----------------------------------------------------------------------

def _register(ctx: typer.Context, call, as_json: bool) -> None:
    with counter_session(ctx) as c:
        result = call(c)
    if as_json:
        print_json(result if isinstance(result, dict) else result.to_dict())
        return
    say_register(result if isinstance(result, dict) else result.to_dict())


@register_app.command("move")
def register_move(ctx: typer.Context, resident: int = RESIDENT,
                  address: str = typer.Option(..., "--address"),
                  household: Optional[str] = typer.Option(None, "--household"),
                  at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """転居: a move within the municipality (SIGN revoked, R4.1)."""
    from openjpki.services.register import move

    now = moment_of(ctx, at)
    _register(ctx, lambda c: move(c, resident, address, now, household_id=household), as_json)


@register_app.command("move-in")
def register_move_in(ctx: typer.Context, resident: int = RESIDENT,
                     address: str = typer.Option(..., "--address"),
                     household: Optional[str] = typer.Option(None, "--household"),
                     at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """転入: a move into this municipality (SIGN revoked, R4.1)."""
    from openjpki.services.register import move_in

    now = moment_of(ctx, at)
    _register(ctx, lambda c: move_in(c, resident, address, now, household_id=household),
              as_json)


@register_app.command("name")
def register_name(ctx: typer.Context, resident: int = RESIDENT,
                  name: Optional[str] = typer.Option(None, "--name"),
                  former_surname: Optional[str] = typer.Option(
                      None, "--former-surname", help="旧氏 ('' removes it)."),
                  alias: Optional[str] = typer.Option(None, "--alias",
                                                      help="通称 ('' removes it)."),
                  at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """A change of name, 旧氏 or 通称 (SIGN revoked, R4.1)."""
    from openjpki.services.register import change_name

    now = moment_of(ctx, at)
    _register(ctx, lambda c: change_name(c, resident, now, name=name,
                                         former_surname=former_surname, alias=alias), as_json)


@register_app.command("stay-extension")
def register_stay_extension(ctx: typer.Context, resident: int = typer.Argument(...),
                            until: str = typer.Option(..., "--until", help="The new last day "
                                                      "of the period of stay (YYYY-MM-DD)."),
                            at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """在留期間の更新: a foreign resident's period of stay is extended (R2.3); renewal can
    then reach the new period."""
    from openjpki.services.register_stay import extend_stay

    day, now = _date(until, "--until"), moment_of(ctx, at)
    _register(ctx, lambda c: extend_stay(c, resident, day, now), as_json)


@register_app.command("birth-date")
def register_birth_date(ctx: typer.Context, resident: int = RESIDENT,
                        birth: str = typer.Option(..., "--birth"),
                        at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """Correction of the date of birth (SIGN revoked, R4.1)."""
    from openjpki.services.register import correct_birth_date

    day, now = _date(birth, "--birth"), moment_of(ctx, at)
    _register(ctx, lambda c: correct_birth_date(c, resident, day, now), as_json)


@register_app.command("sex")
def register_sex(ctx: typer.Context, resident: int = RESIDENT,
                 sex: str = typer.Option(..., "--sex"),
                 at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """Correction of sex (SIGN revoked, R4.1)."""
    from openjpki.services.register import correct_sex

    now = moment_of(ctx, at)
    _register(ctx, lambda c: correct_sex(c, resident, sex, now), as_json)


@register_app.command("card-particulars")
def register_card_particulars(ctx: typer.Context, resident: int = RESIDENT,
                              at: Optional[str] = AT, as_json: bool = JSON) -> None:
    """記載事項変更: the card face rewritten to match the register (R5.2)."""
    from openjpki.services.register import change_card_particulars

    now = moment_of(ctx, at)
    _register(ctx, lambda c: change_card_particulars(c, resident, now), as_json)


# --- audit --------------------------------------------------------------------------------

@audit_app.command("verify")
def audit_verify(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Recompute the audit chain; exit 1 with the first broken entry when it is broken."""
    from openjpki.services.audit import verify
    from openjpki.store import Store, is_current

    s = settings(ctx)
    store = Store.open(s.effective_database_url)
    try:
        try:
            current = is_current(store.engine)
        except Exception:  # noqa: BLE001 — no database at all
            current = False
        if not current:
            fail("the store is not initialised (or not migrated): run `openjpki init`")
        report = verify(store)
    finally:
        store.dispose()
    if as_json:
        print_json(report.as_dict())
    elif report.ok:
        _say(f"audit chain OK: {report.entries} entries, head {report.head_hash}"
             f" — 監査ログは改ざんされていません（{report.entries}件）")
    else:
        _say(f"audit chain BROKEN at entry {report.broken_seq}: {report.problem}"
             f" — 監査ログの{report.broken_seq}件目で連鎖が途切れています")
    if not report.ok:
        raise typer.Exit(1)
