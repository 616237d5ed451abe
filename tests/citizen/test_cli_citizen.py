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
    assert "2029年2月17日：有効期限通知書 1通を送付" in out and "2029年5月16日まで" in out
    assert "expiry notices" in err  # the progress bar, on stderr


def test_notices_run_bad_usage(home, cli, tmp_path):
    assert cli("--home", home, "notices", "run", "--on", "2029-13-01")[0] == 2
    assert cli("--home", home, "notices", "run")[0] == 2
    code, out, err = cli("--home", tmp_path / "empty", "notices", "run", "--on", "2029-01-01")
    assert code == 2 and "init" in err and "Traceback" not in err


def test_sign_pdf_bad_input_is_one_line(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENJPKI_PIN", "ABC123")  # not on the command line (no warning)
    code, out, err = cli("client", "sign-pdf", tmp_path / "missing.pdf", "--out",
                         tmp_path / "o.pdf")
    assert code == 2 and err.count("\n") == 1 and "missing.pdf" in err
    (tmp_path / "not.pdf").write_text("hello")
    code, out, err = cli("client", "sign-pdf", tmp_path / "not.pdf", "--out",
                         tmp_path / "o.pdf")
    assert code == 2 and "not a PDF" in err


def test_R6_R7_kiosk_and_konbini_commands_on_the_sandbox_clock(home, cli, monkeypatch):
    ctx = CounterContext.from_settings(Settings.resolve(home))
    try:
        h = holder(ctx)
    finally:
        ctx.close()
    run = lambda *a: cli("--home", home, *a)  # noqa: E731
    assert run("sandbox", "time", "set", "2025-04-01T10:00:00+09:00", "--freeze")[0] == 0
    code, face, _ = run("kiosk", "face", h.card_number)
    assert code == 0
    card = ("--card", h.virtual_card_id)
    code, out, err = run("kiosk", "prepare", "--target", "sign", "--other-pin", "5678",
                         "--live-face", face.strip(), *card, "--json")
    assert code == 0, err
    assert json.loads(out)["outcome"] == "reset_prepared" and json.loads(out)["rule"] == "R6.2"
    code, out, err = run("kiosk", "reset", "--target", "sign", "--other-pin", "5678",
                         "--new-pin", "NEWSIGN1", *card)
    assert code == 0 and "R6.5" in out, err
    code, out, err = run("kiosk", "prepare", "--target", "sign", "--other-pin", "5678",
                         "--live-face", "someone-else", *card)
    assert code == 1 and "R6.2" in err
    assert run("sandbox", "time", "set", "2025-04-02T05:00:00+09:00", "--freeze")[0] == 0
    code, out, err = run("kiosk", "reset", "--target", "auth", "--other-pin", "NEWSIGN1",
                         "--new-pin", "1357", *card, "--json")
    assert code == 1 and json.loads(out)["rule"] == "R6.4"
    code, out, err = run("konbini", "juminhyo", "--pin", "5678", *card)
    assert code == 1 and "R7.2" in err
    assert run("sandbox", "time", "set", "2025-04-02T09:00:00+09:00", "--freeze")[0] == 0
    code, out, err = run("konbini", "juminhyo", "--pin", "5678", *card, "--json")
    assert code == 0, err
    path = json.loads(out)["path"]
    assert path.startswith(str(home / "konbini")) and "住民票の写し" in pdf_text(path)
    code, out, err = run("konbini", "juminhyo", "--pin", "0000", *card)
    assert code == 1 and "R1.4" in err
    monkeypatch.setenv("OPENJPKI_OTHER_PIN", "5678")  # not on the command line (no warning)
    code, out, err = run("kiosk", "prepare", "--target", "card", *card)
    assert code == 2 and err.count("\n") == 1
    code, out, err = run("konbini", "juminhyo", "--pin", "5678", "--card", "no-such-card")
    assert code == 2 and "no-such-card" in err


def test_R1_3_sign_pdf_pin_of_the_wrong_form_never_reaches_the_card(cli, tmp_path):
    (tmp_path / "in.pdf").write_bytes(b"%PDF-1.4\n%%EOF\n")
    code, out, err = cli("client", "sign-pdf", tmp_path / "in.pdf", "--out", tmp_path / "o.pdf",
                         "--pin", "abc", "--module", "/nonexistent.so")
    assert code == 1 and "R1.3" in err
