"""No PIN needs to be on the command line, where every local user reads it (``ps``,
/proc/PID/cmdline): ``--pin-stdin``, ``$OPENJPKI_<OPTION>_PIN`` or a prompt with hidden input
on a terminal; a PIN given as an option still works, with a warning on stderr."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time

import pytest

from tests.security.serve_app_kit import run_cli

pytestmark = pytest.mark.slow
AT = "2026-12-08T10:00"  # a Tuesday morning: the counter is open


def cli(home, *args, stdin: str | None = None, env: dict | None = None):
    return subprocess.run([sys.executable, "-m", "openjpki", "--home", str(home), *args],
                          input=stdin if stdin is not None else "", capture_output=True,
                          text=True, timeout=120,
                          env={**{k: v for k, v in os.environ.items()
                                  if not k.startswith("OPENJPKI_") or k == "OPENJPKI_HOME"},
                               **(env or {})})


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    h = tmp_path_factory.mktemp("pins") / "home"
    assert cli(h, "init").returncode == 0
    assert cli(h, "demo").returncode == 0  # resident 1: card PIN 2468, AUTH 1234
    return h


def _warned(stderr: str, option: str) -> bool:
    return f"warning: {option} on the command line" in stderr


def test_R1_6_pin_reset_from_stdin_is_not_in_the_process_list(home):
    """While the command waits for its PINs on stdin, its argv holds none of them."""
    proc = subprocess.Popen([sys.executable, "-m", "openjpki", "--home", str(home), "counter",
                             "pin-reset", "1", "--kind", "auth", "--pin-stdin", "--at", AT],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        with open(f"/proc/{proc.pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
        assert b"2468" not in cmdline and b"4321" not in cmdline
        out, err = proc.communicate("2468\n4321\n", timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "completed" in out and "warning" not in err
    # and back, by the environment: no warning either
    r = cli(home, "counter", "pin-change", "1", "--kind", "auth", "--at", AT,
            env={"OPENJPKI_CURRENT_PIN": "4321", "OPENJPKI_NEW_PIN": "1234"})
    assert r.returncode == 0 and "completed" in r.stdout and "warning" not in r.stderr, r.stderr


def test_a_pin_on_argv_still_works_but_warns(home):
    r = cli(home, "counter", "pin-change", "1", "--kind", "auth", "--current", "1234",
            "--new", "5555", "--at", AT)
    assert r.returncode == 0 and "completed" in r.stdout, r.stderr
    assert _warned(r.stderr, "--current") and _warned(r.stderr, "--new")
    assert "5555" not in r.stderr and "1234" not in r.stderr  # the warning repeats no PIN
    r = cli(home, "counter", "pin-change", "1", "--kind", "auth", "--pin-stdin", "--at", AT,
            stdin="5555\n1234\n")
    assert r.returncode == 0 and "warning" not in r.stderr


def test_no_pin_and_no_terminal_is_one_line(home):
    r = cli(home, "counter", "pin-reset", "1", "--kind", "auth", "--at", AT)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode == 2 and len(lines) == 1
    assert "--pin-stdin" in lines[0] and "OPENJPKI_CARD_PIN" in lines[0]
    r = cli(home, "counter", "pin-reset", "1", "--kind", "auth", "--pin-stdin", "--card-pin",
            "2468", "--at", AT, stdin="2468\n4321\n")
    assert r.returncode == 2 and "exclude" in r.stderr


def test_on_a_terminal_the_pin_is_asked_for_and_not_echoed(home):
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command on the terminal
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENJPKI_")}
        os.execve(sys.executable, [sys.executable, "-m", "openjpki", "--home", str(home),
                                   "counter", "pin-reset", "1", "--kind", "auth", "--at", AT],
                  env)
    seen = b""
    answers = [b"2468\n", b"1234\n"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1.0)
        if not ready:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                raise AssertionError("exited early: " + seen.decode("utf-8", "replace"))
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
        # The hidden prompt ends with the space getpass writes once echo is off (an answer
        # typed before that is flushed by the terminal, as a person's would be).
        if answers and seen.endswith(b": "):
            os.write(fd, answers.pop(0))
            seen += b"<answered>"
    text = seen.decode("utf-8", "replace")
    done, status = os.waitpid(pid, os.WNOHANG)
    if done == 0:  # still waiting: stop it, and say what the terminal showed
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise AssertionError(f"the command did not finish; the terminal showed {text!r}")
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "resident-registry PIN" in text and "new PIN" in text and "completed" in text
    assert "2468" not in text and "1234" not in text.replace("<answered>", ""), text


@pytest.mark.parametrize("args,option,env", [
    (("client", "verify-pin", "--key", "auth", "--reader", "no-such-reader"), "--pin",
     "OPENJPKI_PIN"),
    (("client", "change-pin", "--key", "auth", "--reader", "no-such-reader"), "--pin",
     "OPENJPKI_PIN"),
    (("client", "sign-pdf", "/dev/null", "--out", "/dev/null"), "--pin", "OPENJPKI_PIN"),
    (("konbini", "juminhyo", "--card", "no-such-card"), "--pin", "OPENJPKI_PIN"),
    (("kiosk", "reset", "--target", "auth", "--card", "no-such-card"), "--new-pin",
     "OPENJPKI_NEW_PIN"),
])
def test_every_holder_command_takes_its_pin_without_argv(home, args, option, env):
    run = lambda *a, **kw: run_cli("--home", home, *a, **kw)  # noqa: E731
    code, _out, err = run(*args)
    assert code == 2 and env in err, err  # asked for, never guessed
    _c, _o, err = run(*args, option, "1234")
    assert _warned(err, option), err
    _c, _o, err = run(*args, env={env: "1234", "OPENJPKI_NEW_PIN": "4321"})
    assert "warning" not in err and env not in err, err
    _c, _o, err = run(*args, "--pin-stdin", stdin="1234\n4321\n")
    assert "warning" not in err and "--pin-stdin: no line" not in err, err


@pytest.mark.parametrize("command", [("counter", "issue", "1"), ("counter", "renew", "1"),
                                     ("counter", "reissue-sign", "1")])
def test_counter_procedures_warn_on_argv_pins(home, command):
    _c, _o, err = run_cli("--home", home, *command, "--card-pin", "2468", "--at", AT)
    assert _warned(err, "--card-pin"), err
    _c, _o, err = run_cli("--home", home, *command, "--at", AT,
                          env={"OPENJPKI_CARD_PIN": "2468"})
    assert "warning" not in err
