"""``openjpki serve`` as users start it, in a child process, for the tests that talk to it
over the network (tests/web, tests/sandbox)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request


class Serve:
    """``python -m openjpki --home H serve --port P [extra]``, up when /healthz answers;
    stopped with SIGINT (Ctrl-C). Its output goes to ``log`` (unbuffered)."""

    def __init__(self, home, port: int, *extra: str, host: str = "127.0.0.1",
                 env: dict | None = None, stdin: str | None = None) -> None:
        self.port = port
        self.url = f"http://{host}:{port}"
        self.log = home.parent / f"serve-{host}-{port}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "openjpki", "--home", str(home), "serve", "--host", host,
             "--port", str(port), *extra],
            stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin is not None else None,
            env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"})
        if stdin is not None:
            self.proc.stdin.write(stdin.encode())  # type: ignore[union-attr]
            self.proc.stdin.close()  # type: ignore[union-attr]
        # Up when /healthz answers (the condition); the bound only stops a hang, and holds on
        # a loaded machine where the interpreter's start alone can take many seconds.
        deadline = time.monotonic() + 180
        while not self._healthy():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("serve did not start: " + self.log.read_text())
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
