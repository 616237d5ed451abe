"""The CLI frame: usage errors exit 2 with a message and never a traceback (CLI.md)."""

import subprocess
import sys


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "openjpki", *args], capture_output=True, text=True)


def test_unknown_option_exits_2_without_traceback():
    r = run("--no-such-option")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr + r.stdout
    assert "no-such-option" in r.stderr + r.stdout


def test_help_lists_rules():
    r = run("--help")
    assert r.returncode == 0
    assert "rules" in r.stdout


def test_missing_option_is_one_line_exit_2():
    r = run("rules", "expiry", "--birth", "1990-01-01")
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "--issued" in lines[0], r.stderr
    assert "Traceback" not in r.stderr
