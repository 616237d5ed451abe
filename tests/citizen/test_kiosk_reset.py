"""PIN reset with the smartphone app and a kiosk (R6.1–R6.5), through the card's APDU
interface, with the clock injected."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openjpki.rules import JST, Refused
from openjpki.services.counter import Completed, reset_pin
from openjpki.services.kiosk import KioskReset, kiosk_reset_pin
from openjpki.services.kiosk_card import InputError
from openjpki.services.smartphone import ResetPrepared, card_photo_token, prepare_pin_reset
from openjpki.store.citizen_models import FaceMatchState, KioskReservation

from .citizenkit import PINS, T0, actions, holder, in_reader, pin_works, tries_left

NEW = {"sign": "NEWSIGN9", "auth": "9876"}
OTHER = {"sign": PINS.auth, "auth": PINS.sign}  # R6.1: the PIN that proves the holder
OWN = {"sign": PINS.sign, "auth": PINS.auth}


def face(h):
    return card_photo_token(h.card_number)


def app(ctx, h, target, other_pin, now, live_face="match"):
    if live_face == "match":
        live_face = face(h)
    with in_reader(ctx, h) as card:
        return prepare_pin_reset(ctx, card, target, other_pin, now=now, live_face=live_face)


def kiosk(ctx, h, target, other_pin, new_pin, now):
    with in_reader(ctx, h) as card:
        return kiosk_reset_pin(ctx, card, target, other_pin, new_pin, now=now)


def refused(out, rule):
    assert isinstance(out, Refused), out
    assert out.rule == rule, (out.rule, out.message_en)
    assert out.message_ja and out.message_en
    return out


# --- R6.1: which PIN proves the holder ------------------------------------------------------

@pytest.mark.parametrize("target", ["sign", "auth"])
def test_R6_1_reset_needs_the_other_pin_end_to_end(ctx, target):
    h = holder(ctx)
    prepared = app(ctx, h, target, OTHER[target], T0)
    assert isinstance(prepared, ResetPrepared), prepared
    assert prepared.rule == ("R6.2" if target == "sign" else "R6.3")
    assert prepared.expires_at == T0 + timedelta(hours=24)
    done = kiosk(ctx, h, target, OTHER[target], NEW[target], T0 + timedelta(hours=3))
    assert isinstance(done, KioskReset), done
    assert done.rule == "R6.5"
    assert pin_works(ctx, h, target, NEW[target])
    assert not pin_works(ctx, h, target, OWN[target])
    assert pin_works(ctx, h, OTHER_KIND[target], OTHER[target])  # the other PIN untouched
    acts = actions(ctx, h.resident_id)
    assert ("smartphone.reset_prepared", prepared.rule) in acts
    assert ("kiosk.pin_reset", "R6.5") in acts


OTHER_KIND = {"sign": "auth", "auth": "sign"}


@pytest.mark.parametrize("target", ["sign", "auth"])
def test_R6_1_the_pin_being_reset_does_not_prove_the_holder(sctx, target):
    """The target's own PIN is not the other PIN: the card counts a wrong try (R1.4)."""
    h = holder(sctx)
    other = OTHER_KIND[target]
    before = tries_left(sctx, h, other)
    refused(app(sctx, h, target, OWN[target], T0), "R1.4")
    assert tries_left(sctx, h, other) == before - 1
    with sctx.store.transaction() as s:
        assert s.query(KioskReservation).count() == 0
    assert ("smartphone.reset_refused", "R1.4") in actions(sctx, h.resident_id)


@pytest.mark.parametrize("target", ["sign", "auth"])
def test_R6_1_holder_who_does_not_know_the_other_pin_goes_to_the_counter(sctx, target):
    h = holder(sctx)
    out = refused(app(sctx, h, target, None, T0), "R6.1")
    assert "窓口" in out.message_ja


@pytest.mark.parametrize("target", ["sign", "auth"])
def test_R6_1_other_pin_locked_means_counter_only(sctx, target):
    h = holder(sctx)
    other = OTHER_KIND[target]
    while tries_left(sctx, h, other):
        pin_works(sctx, h, other, "0000" if other == "auth" else "WRONG0")
    refused(app(sctx, h, target, OTHER[target], T0), "R6.1")
    refused(kiosk(sctx, h, target, OTHER[target], NEW[target], T0), "R6.1")


def test_R6_1_wrong_other_pin_at_the_kiosk_costs_a_try(sctx):
    h = holder(sctx)
    assert isinstance(app(sctx, h, "sign", PINS.auth, T0), ResetPrepared)
    refused(kiosk(sctx, h, "sign", "1111", NEW["sign"], T0), "R1.4")
    assert tries_left(sctx, h, "auth") == 2
    assert pin_works(sctx, h, "sign", PINS.sign)  # nothing was reset
    assert isinstance(kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], T0), KioskReset)


# --- R6.2: the face match and its lock ------------------------------------------------------

def test_R6_2_five_face_match_failures_lock_the_app_for_that_card(ctx):
    h = holder(ctx)
    other = holder(ctx, name="鈴木　花子", sex="female", birth=date(1990, 2, 3))
    for n in range(1, 5):
        out = refused(app(ctx, h, "sign", PINS.auth, T0, live_face="someone-else"), "R6.2")
        assert f"{5 - n}" in out.message_en
    out = refused(app(ctx, h, "sign", PINS.auth, T0, live_face="someone-else"), "R6.2")
    assert "locked" in out.message_en
    # Locked for that card: even the right face and PIN are refused, for SIGN and AUTH alike,
    # before any PIN is tried.
    auth_tries = tries_left(ctx, h, "auth")
    refused(app(ctx, h, "sign", PINS.auth, T0 + timedelta(days=3)), "R6.2")
    refused(app(ctx, h, "auth", PINS.sign, T0 + timedelta(days=3)), "R6.2")
    assert tries_left(ctx, h, "auth") == auth_tries
    with ctx.store.transaction() as s:  # persisted, not held in memory
        row = s.get(FaceMatchState, h.card_id)
        assert (row.failures, row.app_locked) == (5, True)
    # Another card is not affected.
    assert isinstance(app(ctx, other, "sign", PINS.auth, T0), ResetPrepared)


def test_R6_2_a_match_resets_the_consecutive_count(sctx):
    h = holder(sctx)
    for _ in range(4):
        refused(app(sctx, h, "sign", PINS.auth, T0, live_face="x"), "R6.2")
    assert isinstance(app(sctx, h, "sign", PINS.auth, T0), ResetPrepared)
    for _ in range(4):  # four more failures do not lock: the count started again
        out = refused(app(sctx, h, "sign", PINS.auth, T0, live_face="x"), "R6.2")
    assert "locked" not in out.message_en


def test_R6_2_the_matcher_is_pluggable(sctx):
    h = holder(sctx)

    class Strict:
        def matches(self, card_photo, live_face):
            return False
    with in_reader(sctx, h) as card:
        refused(prepare_pin_reset(sctx, card, "sign", PINS.auth, now=T0, live_face=face(h),
                                  matcher=Strict()), "R6.2")


def test_R6_2_kiosk_within_24_hours_inclusive(sctx):
    h = holder(sctx)
    assert isinstance(app(sctx, h, "sign", PINS.auth, T0), ResetPrepared)
    assert isinstance(kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], T0 + timedelta(hours=24)),
                      KioskReset)


def test_R6_2_kiosk_after_24_hours_is_refused_and_the_reservation_is_spent(sctx):
    h = holder(sctx)
    assert isinstance(app(sctx, h, "sign", PINS.auth, T0), ResetPrepared)
    late = T0 + timedelta(hours=24, minutes=1)
    refused(kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], late), "R6.2")
    with sctx.store.transaction() as s:
        assert [r.state for r in s.query(KioskReservation)] == ["expired"]
    out = refused(kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], late), "R6.2")
    assert "アプリ" in out.message_ja
    assert pin_works(sctx, h, "sign", PINS.sign)


def test_R6_2_no_app_step_no_kiosk_reset(sctx):
    h = holder(sctx)
    refused(kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], T0), "R6.2")
    refused(kiosk(sctx, h, "auth", PINS.sign, NEW["auth"], T0), "R6.3")


def test_R6_2_a_reservation_is_for_one_pin_only(sctx):
    h = holder(sctx)
    assert isinstance(app(sctx, h, "auth", PINS.sign, T0), ResetPrepared)
    refused(kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], T0), "R6.2")


def test_R1_3_new_pin_of_the_wrong_form_is_refused_and_the_reservation_kept(sctx):
    h = holder(sctx)
    assert isinstance(app(sctx, h, "auth", PINS.sign, T0), ResetPrepared)
    refused(kiosk(sctx, h, "auth", PINS.sign, "12345", T0), "R1.3")
    assert pin_works(sctx, h, "auth", PINS.auth)
    assert isinstance(kiosk(sctx, h, "auth", PINS.sign, NEW["auth"], T0), KioskReset)


# --- R6.3: AUTH reset with the SIGN PIN -----------------------------------------------------

def test_R6_3_auth_reset_needs_no_face_match(sctx):
    h = holder(sctx)
    prepared = app(sctx, h, "auth", PINS.sign, T0, live_face=None)
    assert isinstance(prepared, ResetPrepared) and prepared.rule == "R6.3"
    late = T0 + timedelta(hours=24, seconds=1)
    refused(kiosk(sctx, h, "auth", PINS.sign, NEW["auth"], late), "R6.3")


# --- R6.4: kiosk hours ----------------------------------------------------------------------

KIOSK_MOMENTS = [  # (hour, minute, the refusing rule or None)
    (6, 29, "R6.4"), (6, 30, None), (12, 0, None), (22, 59, None), (23, 0, "R6.4"),
    (2, 0, "R6.4"),
]


def test_R6_4_kiosks_work_6_30_to_23_00(sctx):
    h = holder(sctx)
    for hh, mm, rule in KIOSK_MOMENTS:
        prepared_at = datetime(2025, 4, 1, 23, 10, tzinfo=JST)  # the app works at any hour
        assert isinstance(app(sctx, h, "auth", PINS.sign, prepared_at), ResetPrepared)
        moment = datetime(2025, 4, 2, hh, mm, tzinfo=JST)
        before = tries_left(sctx, h, "sign")
        out = kiosk(sctx, h, "auth", PINS.sign, NEW["auth"], moment)
        if rule is None:
            assert isinstance(out, KioskReset), (hh, mm, out)
        else:
            out = refused(out, rule)
            assert out.opens_at is not None and out.opens_at.time().isoformat() == "06:30:00"
            assert tries_left(sctx, h, "sign") == before  # the card was not even read
    assert ("kiosk.pin_reset.refused", "R6.4") in actions_all(sctx)


def actions_all(ctx):
    from openjpki.store.audit import AuditEntry
    with ctx.store.transaction() as s:
        return [(e.action, e.payload.get("rule")) for e in s.query(AuditEntry).order_by(AuditEntry.seq)]


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.integers(min_value=0, max_value=48 * 60))
def test_R6_2_R6_4_window_and_hours_property(sctx, minutes):
    """Whatever the moment: the kiosk step passes the window and hours checks iff it is at
    most 24 h after the app step and within 6:30–23:00 (a malformed new PIN then stops it
    at R1.3, so the reservation is not used up)."""
    h = _shared_holder(sctx)
    assert isinstance(app(sctx, h, "auth", PINS.sign, T0), ResetPrepared)
    moment = (T0 + timedelta(minutes=minutes)).astimezone(JST)
    out = kiosk(sctx, h, "auth", PINS.sign, "bad", moment)
    in_hours = (6, 30) <= (moment.hour, moment.minute) < (23, 0)
    if not in_hours:
        refused(out, "R6.4")
    elif minutes > 24 * 60:
        refused(out, "R6.3")
    else:
        refused(out, "R1.3")


def _shared_holder(ctx):
    cache = _shared_holder.__dict__.setdefault("by_ctx", {})
    if id(ctx) not in cache:
        cache.clear()
        cache[id(ctx)] = holder(ctx)
    return cache[id(ctx)]


# --- R6.5: the reset clears the lock and the count ------------------------------------------

def test_R6_5_kiosk_reset_unlocks_a_locked_pin(sctx):
    h = holder(sctx)
    while tries_left(sctx, h, "sign"):
        pin_works(sctx, h, "sign", "WRONG0")
    assert isinstance(app(sctx, h, "sign", PINS.auth, T0), ResetPrepared)
    assert isinstance(kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], T0), KioskReset)
    assert tries_left(sctx, h, "sign") == 5
    assert pin_works(sctx, h, "sign", NEW["sign"])


def test_R6_5_kiosk_reset_clears_the_face_match_count(sctx):
    h = holder(sctx)
    for _ in range(4):
        refused(app(sctx, h, "sign", PINS.auth, T0, live_face="x"), "R6.2")
    assert isinstance(app(sctx, h, "auth", PINS.sign, T0), ResetPrepared)
    assert isinstance(kiosk(sctx, h, "auth", PINS.sign, NEW["auth"], T0), KioskReset)
    out = refused(app(sctx, h, "sign", NEW["auth"], T0, live_face="x"), "R6.2")
    assert "4 more" in out.message_en  # the count started again from zero


def test_R6_5_counter_reset_clears_the_app_lock(sctx):
    h = holder(sctx)
    for _ in range(5):
        app(sctx, h, "sign", PINS.auth, T0, live_face="x")
    refused(app(sctx, h, "sign", PINS.auth, T0), "R6.2")
    done = reset_pin(sctx, h.resident_id, "sign", PINS.card, "COUNTER1", now=T0 + timedelta(days=1))
    assert isinstance(done, Completed), done
    assert isinstance(app(sctx, h, "sign", PINS.auth, T0 + timedelta(days=2)), ResetPrepared)


def test_a_newer_app_step_voids_the_older_reservation(sctx):
    h = holder(sctx)
    app(sctx, h, "sign", PINS.auth, T0)
    app(sctx, h, "sign", PINS.auth, T0 + timedelta(hours=20))
    with sctx.store.transaction() as s:
        assert sorted(r.state for r in s.query(KioskReservation)) == ["open", "void"]
    # The newer one counts: 30 h after the first, 10 h after the second.
    assert isinstance(kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], T0 + timedelta(hours=30)),
                      KioskReset)


def test_the_card_pin_cannot_be_reset_at_a_kiosk(sctx):
    h = holder(sctx)
    with pytest.raises(InputError):
        app(sctx, h, "card", PINS.auth, T0)


def test_no_pin_in_the_audit_log(sctx):
    import json
    h = holder(sctx)
    app(sctx, h, "sign", PINS.auth, T0)
    kiosk(sctx, h, "sign", PINS.auth, NEW["sign"], T0)
    from openjpki.store.audit import AuditEntry
    with sctx.store.transaction() as s:
        text = json.dumps([e.payload for e in s.query(AuditEntry)], ensure_ascii=False)
    for secret in (NEW["sign"], face(h)):
        assert secret not in text


def test_a_card_without_sign_has_no_sign_pin_to_reset(sctx):
    """Under 15 the card carries AUTH only (R1.5): no SIGN PIN to reset, nor to prove with."""
    from .citizenkit import child_holder
    child = child_holder(sctx)
    with pytest.raises(InputError):
        app(sctx, child, "sign", PINS.auth, T0)
    out = app(sctx, child, "auth", PINS.sign, T0)
    assert isinstance(out, Refused) and out.rule == "R6.1", out


def test_R6_3_a_revoked_sign_pin_does_not_prove_the_holder_at_the_kiosk(ctx):
    """The reset of AUTH proves the holder with the SIGN PIN: once SIGN is revoked (a move,
    R4.1) that PIN proves nothing, at the app step and at the kiosk step (R6.1, R6.3)."""
    from openjpki.services.register import move

    h = holder(ctx)
    prepared = app(ctx, h, "auth", PINS.sign, T0)  # prepared while SIGN was good
    assert isinstance(prepared, ResetPrepared), prepared
    move(ctx, h.resident_id, "埼玉県川口市本町四丁目4番4号", T0 + timedelta(hours=1))
    out = refused(kiosk(ctx, h, "auth", PINS.sign, NEW["auth"], T0 + timedelta(hours=2)),
                  "R6.3")
    assert "署名用電子証明書が有効でない" in out.message_ja
    assert pin_works(ctx, h, "auth", PINS.auth)  # nothing was reset
    refused(app(ctx, h, "auth", PINS.sign, T0 + timedelta(hours=3)), "R6.3")
    assert ("kiosk.pin_reset.refused", "R6.3") in actions(ctx, h.resident_id)
