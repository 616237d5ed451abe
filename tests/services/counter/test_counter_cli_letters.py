"""The counter's letters from the command line (``counter letter list`` / ``print``), the
paid card re-issue of R3.6 (``--paid-reissue``), and the human output of the counter's
commands: English and Japanese in the words of the label table, no internal codes."""

from __future__ import annotations

import json
import re
import stat
from datetime import datetime, timedelta, timezone

from pypdf import PdfReader

from .kit import cli, opening

ADDRESS = "埼玉県川口市青木二丁目1番1号"
PINS = ("--card-pin", "1234", "--sign-pin", "ABC123", "--auth-pin", "5678")
# Codes the services speak in that a person must never read in the human output.
CODES = re.compile(r"\b(superseded|affiliationChanged|certificateHold|cessationOfOperation|"
                   r"keyCompromise|reissue_after_change|new_issuance|pin_reset|pin_change|"
                   r"inquiry_form|expiry_notice|voluntary_proxy|change_of_particulars|"
                   r"card_reissue|renewal_window|sign_revoked|on_hold)\b")


def _moment():
    return (opening(datetime.now(timezone.utc) + timedelta(minutes=5))
            + timedelta(minutes=1)).isoformat()


def _holder(capsys, home, at):
    rc, out, err = cli(capsys, home, "resident", "add", "--name", "山田　太郎", "--address",
                       ADDRESS, "--birth", "1980-05-15", "--sex", "male", "--json")
    assert rc == 0, err
    rid = str(json.loads(out)["id"])
    rc, out, err = cli(capsys, home, "counter", "issue", rid, "--new-card", *PINS, "--at", at)
    assert rc == 0, err
    return rid, out


def test_letters_listed_and_printed_again(capsys, inited_home, tmp_path):
    home, at = inited_home, _moment()
    rid, _ = _holder(capsys, home, at)
    rc, out, _ = cli(capsys, home, "counter", "pin-reset", rid, "--kind", "auth",
                     "--card-pin", "1234", "--new", "2468", "--applicant", "voluntary_proxy",
                     "--photo-id", "drivers_licence:2099-01-01", "--at", at, "--json")
    mailed = json.loads(out)
    assert rc == 0 and mailed["outcome"] == "inquiry_mailed"
    rc, out, _ = cli(capsys, home, "counter", "letter", "list", rid, "--json")
    (letter,) = json.loads(out)
    assert rc == 0 and letter["reference"] == mailed["reference"]
    assert letter["id"] == mailed["letter_id"] and letter["kind"] == "inquiry_form"
    rc, out, _ = cli(capsys, home, "counter", "letter", "list", rid)
    assert rc == 0 and "照会書兼回答書兼委任状" in out and mailed["reference"] in out
    assert not CODES.search(out), out
    pdf = tmp_path / "out" / "letter.pdf"
    rc, out, err = cli(capsys, home, "counter", "letter", "print", str(letter["id"]),
                       "--out", str(pdf))
    assert rc == 0, err
    assert stat.S_IMODE(pdf.stat().st_mode) == 0o600
    text = "".join("".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
    assert mailed["reference"] in text and "山田太郎" in text
    first = pdf.read_bytes()
    # The same letter every time; an existing file is not overwritten without --force.
    rc, _, err = cli(capsys, home, "counter", "letter", "print", str(letter["id"]), "--out",
                     str(pdf))
    assert rc == 2 and "exists" in err and "Traceback" not in err
    rc, _, _ = cli(capsys, home, "counter", "letter", "print", str(letter["id"]), "--out",
                   str(pdf), "--force")
    assert rc == 0 and pdf.read_bytes() == first
    rc, out, _ = cli(capsys, home, "audit", "verify", "--json")
    assert rc == 0 and json.loads(out)["ok"]


def test_letter_print_of_no_such_letter_is_one_line(capsys, inited_home, tmp_path):
    rc, out, err = cli(capsys, inited_home, "counter", "letter", "print", "999",
                       "--out", str(tmp_path / "x.pdf"))
    assert rc == 2 and "no letter 999" in err and err.count("\n") == 1
    assert not (tmp_path / "x.pdf").exists()
    rc, out, err = cli(capsys, inited_home, "counter", "letter", "list", "999")
    assert rc == 2 and "Traceback" not in err


def test_R3_6_paid_reissue_from_the_cli(capsys, inited_home):
    home, at = inited_home, _moment()
    rid, _ = _holder(capsys, home, at)
    rc, out, err = cli(capsys, home, "counter", "card-end", rid, "--end", "returned",
                       "--at", at)
    assert rc == 0, out + err
    rc, out, err = cli(capsys, home, "counter", "issue", rid, "--new-card", "--paid-reissue",
                       *PINS, "--at", at, "--json")
    assert rc == 0, err
    done = json.loads(out)
    assert done["fee"] == 200 and done["fee_reason"] == "card_reissue"
    rc, out, err = cli(capsys, home, "counter", "issue", rid, "--paid-reissue", *PINS,
                       "--at", at)
    assert rc == 2 and "--paid-reissue goes with --new-card" in err


def test_human_output_speaks_in_labels(capsys, inited_home):
    home, at = inited_home, _moment()
    rid, issued = _holder(capsys, home, at)
    assert issued.startswith("completed (") and "新規発行：完了" in issued
    assert "署名用電子証明書" in issued and "年" in issued
    rc, moved, _ = cli(capsys, home, "register", "move", rid, "--address",
                       "埼玉県川口市本町一丁目2番3号", "--at", at)
    assert rc == 0 and "転居を登録しました" in moved and "記録事項の変更" in moved, moved
    rc, shown, _ = cli(capsys, home, "resident", "show", rid)
    assert rc == 0 and "失効" in shown and "マイナンバーカード 有効" in shown
    for out in (issued, moved, shown):
        assert not CODES.search(out), out
