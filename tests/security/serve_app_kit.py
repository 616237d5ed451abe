"""The app ``openjpki serve`` runs (API, pages, sandbox), in process on a fresh sandbox home,
for the input tests of tests/security (server exceptions answered, not raised)."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from openjpki.config import Settings
from openjpki.rules import JST
from openjpki.services.authority_home import initialise_home
from openjpki.web.serving import serve_app


def sandbox_client(home) -> TestClient:
    settings = Settings.resolve(home)
    initialise_home(settings, now=datetime(2025, 1, 6, 9, 0, tzinfo=JST))
    return TestClient(serve_app(settings), raise_server_exceptions=False)


def run_cli(*args, stdin: str = "", env: dict | None = None) -> tuple[int, str, str]:
    """``openjpki ARGS`` in this process (as a user runs it, without a new interpreter):
    (exit status, stdout, stderr). ``env`` is set for the call only; stdin is no terminal."""
    import contextlib
    import io
    import os
    import sys

    from openjpki.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env = {k: os.environ.get(k) for k in (env or {})}
    saved_stdin = sys.stdin
    os.environ.update(env or {})
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main([os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args])
                code = 0
            except SystemExit as e:
                code = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    finally:
        sys.stdin = saved_stdin
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return code, out.getvalue(), err.getvalue()


class Ran:
    """What :func:`run_cli` gave, shaped like ``subprocess.CompletedProcess``."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.returncode, self.stdout, self.stderr = code, out, err


def cli_in(home, *args, env: dict | None = None, stdin: str = "") -> Ran:
    return Ran(*run_cli("--home", home, *args, env=env, stdin=stdin))
