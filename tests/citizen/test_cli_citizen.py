"""`openjpki notices run --on D` as CLI.md says: ``{"selected": n, "letters": [paths]}``."""

from __future__ import annotations

import json
from datetime import date

from openjpki.config import Settings
from openjpki.services.counter import CounterContext

from .citizenkit import holder, pdf_text


def test_R3_4_notices_run_json(home, cli):
    ctx = CounterContext.from_settings(Settings.resolve(home))
    try:
        holder(ctx, birth=date(1980, 5, 15))
        holder(ctx, name="鈴木　花子", birth=date(1980, 5, 16), sex="female")
    finally:
        ctx.close()
    code, out, err = cli("--home", home, "notices", "run", "--on", "2029-02-16", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert set(answer) == {"selected", "letters"} and answer["selected"] == 1
    (letter,) = answer["letters"]
    assert letter.startswith(str(home / "letters")) and "電子証明書の有効期限通知書" in pdf_text(letter)
    assert "━" not in err  # no progress bar with --json
    code, out, err = cli("--home", home, "notices", "run", "--on", "2029-02-16", "--json")
    assert (code, json.loads(out)) == (0, {"selected": 0, "letters": []})
    code, out, err = cli("--home", home, "notices", "run", "--on", "2029-02-17")
    assert code == 0 and "1 expiry notice(s)" in out
    assert "expiry notices" in err  # the progress bar, on stderr


def test_notices_run_bad_usage(home, cli, tmp_path):
    assert cli("--home", home, "notices", "run", "--on", "2029-13-01")[0] == 2
    assert cli("--home", home, "notices", "run")[0] == 2
    code, out, err = cli("--home", tmp_path / "empty", "notices", "run", "--on", "2029-01-01")
    assert code == 2 and "init" in err and "Traceback" not in err


def test_sign_pdf_bad_input_is_one_line(cli, tmp_path):
    code, out, err = cli("client", "sign-pdf", tmp_path / "missing.pdf", "--out",
                         tmp_path / "o.pdf", "--pin", "ABC123")
    assert code == 2 and err.count("\n") == 1 and "missing.pdf" in err
    (tmp_path / "not.pdf").write_text("hello")
    code, out, err = cli("client", "sign-pdf", tmp_path / "not.pdf", "--out",
                         tmp_path / "o.pdf", "--pin", "ABC123")
    assert code == 2 and "not a PDF" in err
