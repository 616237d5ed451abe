"""Side-by-side measurement helpers shared by the benchmarks.

Each side runs as its own child process so that wall time and peak memory (the child's
maximum resident set size, from ``os.wait4``) are measured the same way for our code and for
the reference tool, with nothing else in the process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Run:
    label: str
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_measured(label: str, argv: list[str], cwd: str | Path | None = None,
                 env: dict[str, str] | None = None, timeout: float | None = None) -> Run:
    """Run ``argv`` to completion; return its wall time and peak RSS."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out_w, stderr=err_w)
    os.close(out_w)
    os.close(err_w)
    # Read both pipes fully before reaping, so a chatty child never blocks on a full pipe.
    with os.fdopen(out_r, "rb") as o, os.fdopen(err_r, "rb") as e:
        import threading

        chunks: dict[str, bytes] = {}

        def drain(name: str, f) -> None:
            chunks[name] = f.read()

        t = threading.Thread(target=drain, args=("err", e))
        t.start()
        chunks["out"] = o.read()
        t.join()
    _, status, rusage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(label, seconds, rusage.ru_maxrss / 1024.0, proc.returncode,
               chunks["out"].decode(errors="replace"), chunks["err"].decode(errors="replace"))


def python_argv(module_file: str | Path, *args: str) -> list[str]:
    return [sys.executable, str(module_file), *args]


def require_ok(run: Run) -> Run:
    if run.returncode != 0:
        raise SystemExit(f"{run.label} failed ({run.returncode}):\n{run.stderr[-2000:]}")
    return run
