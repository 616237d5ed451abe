"""The card's own expiry in the expiry-notice batch (R3.4; 001: the お知らせ covers the card):
a card coming to its end with no certificate due gets one notice, in the window of R3.1,
with the card's expiry on it; a card whose certificates' notice told of it gets no second
one; a card ended by the period of stay gets none."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from openjpki.rules import JST, age_on, card_expiry, expiry_notice_on
from openjpki.services.counter import Completed, ResidentInput, add_resident, issue_new_card
from openjpki.services.notices import run_expiry_notices
from openjpki.services.notices_cards import card_claim_key
from openjpki.store.citizen_models import ExpiryNotice
from openjpki.store.counter_models import Letter

from .citizenkit import PINS, pdf_text, squash


def moment(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 2, 0, tzinfo=JST)


def issue(ctx, birth: date, issued: date, *, declined=(), **person) -> tuple[int, int]:
    """A resident with a new card issued on ``issued`` (office hours not checked here)."""
    now = datetime.combine(issued, time(10, 0), JST)
    ctx = replace(ctx, calendar=None)
    rid = add_resident(ctx, ResidentInput(name="期限　カード", address="埼玉県川口市青木二丁目1番1号",
                                          birth_date=birth, sex="female", **person), now)["id"]
    out = issue_new_card(ctx, rid, PINS, now=now, declined=declined)
    assert isinstance(out, Completed), out
    return rid, out.card_id


def letters(ctx, rid: int) -> list[Letter]:
    with ctx.store.transaction() as s:
        rows = s.execute(select(Letter).where(Letter.resident_id == rid,
                                              Letter.kind == "expiry_notice")
                         .order_by(Letter.id)).scalars().all()
        s.expunge_all()
        return list(rows)


def card_told(ctx, card_id: int) -> list[ExpiryNotice]:
    with ctx.store.transaction() as s:
        rows = s.execute(select(ExpiryNotice).where(
            ExpiryNotice.serial == card_claim_key(card_id))).scalars().all()
        s.expunge_all()
        return list(rows)


def batch(ctx, on: date, tmp_path):
    return run_expiry_notices(ctx.store, on, now=moment(on), out_dir=tmp_path)


def test_R3_4_a_card_without_certificates_is_noticed_once_with_its_expiry(ctx, tmp_path):
    """Both certificates declined (R5.10): the card alone comes to its end."""
    birth, issued = date(1980, 5, 15), date(2025, 4, 1)
    rid, card_id = issue(ctx, birth, issued, declined=("sign", "auth"))
    end = card_expiry(birth, issued)  # the 10th birthday after issue: 2034-05-15
    assert end == date(2034, 5, 15)
    opens = expiry_notice_on(end)  # 2034-02-16
    assert batch(ctx, opens - timedelta(days=1), tmp_path).cards == 0
    assert letters(ctx, rid) == []
    first = batch(ctx, opens, tmp_path)
    assert first.cards == 1 and first.selected == 1
    (letter,) = letters(ctx, rid)
    assert letter.payload["card_expires_on"] == end.isoformat()
    assert letter.payload["kinds"] == [] and letter.payload["title_ja"] == "マイナンバーカードの有効期限通知書"
    text = pdf_text(letter.payload["path"])
    for expected in ("マイナンバーカードの有効期限通知書", "2034年5月15日", "期限　カード　様",
                     "カードの更新（新しいカードの交付申請）", letter.reference):
        assert squash(expected) in text, expected
    assert "照会書兼回答書兼委任状" not in text  # nothing to renew by proxy
    for day in (opens, opens + timedelta(days=1), end):
        assert batch(ctx, day, tmp_path).selected == 0
    assert len(letters(ctx, rid)) == 1 and len(card_told(ctx, card_id)) == 1


def test_R3_4_none_for_a_card_ended_by_the_period_of_stay(sctx, tmp_path):
    issued = date(2025, 4, 1)
    rid, card_id = issue(sctx, date(1980, 5, 15), issued, declined=("sign", "auth"),
                         foreign_resident=True, stay_until=date(2026, 1, 10))
    for day in (expiry_notice_on(date(2026, 1, 10)), date(2026, 1, 10)):
        batch(sctx, day, tmp_path)
    assert letters(sctx, rid) == [] and card_told(sctx, card_id) == []


def _births(issued: date):
    """Birth dates around the boundaries: the 18th birthday of R2.5 near the issue day, a
    birthday on the issue day itself (R2.4), 29 February, and any adult or child."""
    def years_before(n: int, days: int) -> date:
        try:
            d = issued.replace(year=issued.year - n)
        except ValueError:  # 29 February
            d = date(issued.year - n, 2, 28)
        return d + timedelta(days=days)
    near = st.builds(years_before, st.sampled_from([17, 18, 19, 30]), st.integers(-3, 3))
    leap = st.sampled_from([date(1988, 2, 29), date(2008, 2, 29), date(2000, 2, 29)])
    return st.one_of(near, leap, st.dates(date(1945, 1, 1), issued - timedelta(days=16 * 366)))


@st.composite
def holders(draw):
    issued = draw(st.dates(date(2025, 2, 3), date(2026, 12, 25)))
    birth = draw(_births(issued))
    return birth, issued


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=holders())
@example(case=(date(2008, 2, 29), date(2026, 2, 27)))  # 17 the day before a 28 Feb birthday
@example(case=(date(2007, 4, 1), date(2025, 4, 1)))    # 18 on the issue day itself (R2.4)
def test_R3_4_the_card_is_told_once_around_its_boundary(sctx, tmp_path, case):
    """Whatever the birth and issue dates, the card's expiry is told on exactly one letter:
    the certificates' notice when they end with the card (a holder under 18 at issue, or
    renewed up to the card's end), else a notice of the card alone sent on the day the
    window opens — not the day before, and not again after."""
    birth, issued = case
    rid, card_id = issue(sctx, birth, issued)
    end = card_expiry(birth, issued)
    opens = expiry_notice_on(end)
    out = tmp_path / f"{rid}"
    for day in (opens - timedelta(days=1), opens, opens + timedelta(days=1), end):
        batch(sctx, day, out)
        told = [x for x in letters(sctx, rid) if x.payload.get("card_expires_on")]
        if day < opens:
            assert told == [], (birth, issued, day)
        else:
            assert len(told) == 1, (birth, issued, day, told)
            assert told[0].payload["card_expires_on"] == end.isoformat()
            assert told[0].payload["batch_on"] == opens.isoformat()
    (claim,) = card_told(sctx, card_id)
    assert claim.not_after == end and claim.batch_on == opens
    alone = told[0].payload["kinds"] == []
    # An adult's certificates end on the 5th birthday, years before the 10-year card: the
    # card is told alone. A younger holder's card and certificates end together.
    assert alone == (age_on(birth, issued) >= 18), (birth, issued)
