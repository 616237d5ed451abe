"""The expiry-notice batch (R3.4): who is selected on a day, nobody twice (also with two
batches at once), none for a validity ended by the period of stay, and the letter a PDF with
the notice and the inquiry form in Japanese."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from openjpki.rules import JST, expiry_notice_due
from openjpki.services.counter import Completed, reissue_sign
from openjpki.services.notices import run_expiry_notices
from openjpki.services.notices_select import notice_window
from openjpki.services.register import move
from openjpki.store.citizen_models import ExpiryNotice
from openjpki.store.counter_models import Letter

from .citizenkit import holder, pdf_text, squash


def moment(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, 2, 0, tzinfo=JST)


def run(ctx, on: date, out_dir):
    return run_expiry_notices(ctx.store, on, now=moment(on), out_dir=out_dir)


def noticed(ctx) -> dict[int, set[str]]:
    with ctx.store.transaction() as s:
        out: dict[int, set[str]] = {}
        for n in s.query(ExpiryNotice):
            out.setdefault(n.resident_id, set()).add(n.kind)
        return out


# Issued 2025-04-01: both certificates end on the 5th birthday after that day (R2.1).
ON = date(2029, 2, 16)  # notices due for expiries 2029-02-16 .. 2029-05-15


@given(on=st.dates(date(2024, 1, 1), date(2040, 12, 31)), offset=st.integers(-5, 130))
def test_R3_4_window_is_exactly_the_rule(on, offset):
    """The SQL range [on, last] holds exactly the expiry days the rule says are due."""
    first, last = notice_window(on)
    expiry = on + timedelta(days=offset)
    assert (first <= expiry <= last) == expiry_notice_due(expiry, on)


def test_R3_4_selection_window(ctx, tmp_path):
    edge_in = holder(ctx, name="期限　内側", birth=date(1980, 5, 15))     # expires 2029-05-15
    edge_out = holder(ctx, name="期限　外側", birth=date(1980, 5, 16))    # 2029-05-16: next day
    early = holder(ctx, name="期限　早め", birth=date(1980, 4, 2))        # 2029-04-02
    late = holder(ctx, name="期限　遅め", birth=date(1980, 12, 1))        # 2029-12-01
    batch = run(ctx, ON, tmp_path)
    assert batch.window == (ON, date(2029, 5, 15))
    assert noticed(ctx) == {edge_in.resident_id: {"sign", "auth"},
                            early.resident_id: {"sign", "auth"}}
    assert batch.selected == 2 and len(batch.letters) == 2  # one letter per card
    # The next day the 2029-05-16 holder is due, and only that one.
    batch = run(ctx, ON + timedelta(days=1), tmp_path)
    assert batch.selected == 1
    assert edge_out.resident_id in noticed(ctx) and late.resident_id not in noticed(ctx)


def test_R3_4_on_the_expiry_day_and_not_after(sctx, tmp_path):
    h = holder(sctx, birth=date(1980, 4, 2))  # expires 2029-04-02
    assert run(sctx, date(2029, 4, 3), tmp_path).selected == 0  # expired: a new issuance
    assert run(sctx, date(2029, 4, 2), tmp_path).selected == 1
    assert noticed(sctx) == {h.resident_id: {"sign", "auth"}}


def test_R3_4_no_duplicates_on_rerun(ctx, tmp_path):
    holder(ctx, birth=date(1980, 5, 1))
    holder(ctx, name="鈴木　花子", birth=date(1981, 5, 2), sex="female")
    first = run(ctx, ON, tmp_path)
    assert first.selected == 2
    for day in (ON, ON, ON + timedelta(days=1), ON + timedelta(days=30)):
        again = run(ctx, day, tmp_path)
        assert (again.selected, again.letters) == (0, [])
    with ctx.store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ExpiryNotice)) == 4
        assert s.scalar(select(func.count()).select_from(Letter)
                        .where(Letter.kind == "expiry_notice")) == 2


def test_R3_4_two_batches_at_once_send_each_notice_once(ctx, tmp_path):
    for i in range(6):
        holder(ctx, name=f"同時　{i}", birth=date(1980, 4, 10 + i))
    results, errors = [], []
    barrier = threading.Barrier(2)

    def batch(n):
        try:
            barrier.wait()
            results.append(run(ctx, ON, tmp_path / f"run{n}"))
        except Exception as e:  # noqa: BLE001
            errors.append(e)
    threads = [threading.Thread(target=batch, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(r.selected for r in results) == 6
    files = [p for r in results for p in r.letters]
    assert len(files) == 6 and all(p.exists() for p in files)
    with ctx.store.transaction() as s:
        assert s.scalar(select(func.count()).select_from(ExpiryNotice)) == 12
        assert s.scalar(select(func.count(func.distinct(ExpiryNotice.resident_id)))) == 6
        assert s.scalar(select(func.count()).select_from(Letter)
                        .where(Letter.kind == "expiry_notice")) == 6


def test_R3_4_none_for_a_validity_ended_by_the_period_of_stay(sctx, tmp_path):
    capped = holder(sctx, name="スミス　ジョン", birth=date(1980, 12, 1), foreign_resident=True,
                    stay_until=date(2029, 5, 1))   # R2.3: ends with the stay
    long_stay = holder(sctx, name="リー　メイ", birth=date(1980, 5, 1), sex="female",
                       foreign_resident=True, stay_until=date(2040, 1, 1))  # by birthday (R2.1)
    run(sctx, ON, tmp_path)
    assert noticed(sctx) == {long_stay.resident_id: {"sign", "auth"}}
    assert capped.resident_id not in noticed(sctx)


def test_R3_4_a_revoked_sign_gets_no_notice(sctx, tmp_path):
    """After a move SIGN is revoked (R4.1); AUTH stays good (R4.2) and is noticed alone."""
    h = holder(sctx, birth=date(1980, 5, 1))
    move(sctx, h.resident_id, "埼玉県川口市本町四丁目1番1号", datetime(2026, 6, 1, 10, tzinfo=JST))
    run(sctx, ON, tmp_path)
    assert noticed(sctx) == {h.resident_id: {"auth"}}


def test_R3_4_the_letter_is_a_pdf_with_the_notice_and_the_inquiry_form(sctx, tmp_path):
    holder(sctx, name="山田　太郎", birth=date(1980, 5, 15), address="埼玉県川口市青木二丁目1番1号")
    batch = run(sctx, ON, tmp_path)
    (path,) = batch.letters
    assert path.read_bytes().startswith(b"%PDF-") and path.parent.name == ON.isoformat()
    text = pdf_text(path)
    for expected in ("電子証明書の有効期限通知書", "山田　太郎　様", "埼玉県川口市青木二丁目1番1号",
                     "署名用電子証明書", "利用者証明用電子証明書", "2029年5月15日",
                     "2029年2月16日から2029年5月15日まで", "この通知書がなくても更新の手続きはできます",
                     "照会書兼回答書兼委任状", "目隠しシール", "昭和55年5月15日", path.stem):
        assert squash(expected) in text, expected
    with sctx.store.transaction() as s:
        letter = s.query(Letter).filter(Letter.kind == "expiry_notice").one()
        assert letter.reference == path.stem and letter.payload["path"] == str(path)


def test_R3_4_renewal_and_reissue_make_new_certificates_to_notice_later(sctx, tmp_path):
    """A certificate issued after a notice is a new serial: its own notice comes in its own
    window, not the old one's."""
    h = holder(sctx, birth=date(1980, 5, 1))
    move(sctx, h.resident_id, "埼玉県川口市本町四丁目1番1号", datetime(2026, 6, 1, 10, tzinfo=JST))
    from openjpki.services.register import change_card_particulars
    change_card_particulars(sctx, h.resident_id, datetime(2026, 6, 1, 10, 5, tzinfo=JST))
    from .citizenkit import PINS
    out = reissue_sign(sctx, h.resident_id, PINS, now=datetime(2026, 6, 1, 10, 10, tzinfo=JST))
    assert isinstance(out, Completed), out
    run(sctx, ON, tmp_path)  # the new SIGN is capped by AUTH (R2.2): same expiry, noticed
    assert noticed(sctx) == {h.resident_id: {"sign", "auth"}}


def test_progress_and_total(sctx, tmp_path):
    for i in range(3):
        holder(sctx, name=f"進捗　{i}", birth=date(1980, 4, 20 + i))
    totals, steps = [], []
    run_expiry_notices(sctx.store, ON, now=moment(ON), out_dir=tmp_path,
                       on_total=totals.append, progress=steps.append)
    assert totals == [6] and sum(steps) == 6 and len(steps) == 3


def test_R3_4_a_notice_claimed_by_another_batch_is_skipped(ctx, tmp_path):
    """What the loser of a race sees: its stream still lists the holder, but the claim finds
    the row the winner inserted, so it sends nothing and leaves no file."""
    from openjpki.services.notices import _send
    from openjpki.services.notices_select import group_notices, stream_due

    holder(ctx, birth=date(1980, 5, 1))
    with ctx.store.engine.connect() as conn:
        (stale,) = list(group_notices(stream_due(conn, ON)))
    assert run(ctx, ON, tmp_path / "winner").selected == 1
    assert _send(ctx.store, stale, ON, moment(ON), tmp_path / "loser") is None
    assert not (tmp_path / "loser").exists() or not list((tmp_path / "loser").iterdir())
