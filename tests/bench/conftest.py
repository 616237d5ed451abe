"""Running the side-by-side benchmarks (bench/) in quick mode, as child processes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


@dataclass(frozen=True)
class BenchRun:
    stdout: str
    result: dict  # the --json object (last line)

    def ratio_line(self, bench: str) -> list[dict[str, str]]:
        """Every ``RATIO <bench> key=value ...`` line, parsed."""
        lines = [line for line in self.stdout.splitlines() if line.startswith(f"RATIO {bench} ")]
        return [dict(pair.split("=", 1) for pair in line.split()[2:]) for line in lines]


def run_bench(script: str, *args: str, timeout: float = 300) -> BenchRun:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENJPKI_")}
    p = subprocess.run([sys.executable, str(BENCH / script), *args, "--json"], capture_output=True, text=True,
                       timeout=timeout, env=env)
    assert p.returncode == 0, f"{script} failed:\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
    return BenchRun(p.stdout, json.loads(p.stdout.strip().splitlines()[-1]))


NUMBER = re.compile(r"^[0-9]+(\.[0-9]+)?$")


def openssl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=timeout)
