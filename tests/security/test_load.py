"""The load test, quick (10 s; ``python bench/load.py`` runs the 60 s one): OCSP GETs on 16
kept-alive connections to ``openjpki serve`` while revocations and new cards run through the
JSON API — 0 errors, every revocation shown by OCSP within the server's sync interval, the
audit chain clean."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"

pytestmark = pytest.mark.slow


def test_quick_load_has_no_errors_and_revocations_show_within_the_sync_interval():
    done = subprocess.run([sys.executable, str(BENCH), "--duration", "10", "--revocations",
                           "20", "--issuances", "6", "--json"], capture_output=True,
                          text=True, timeout=600)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ocsp_errors"] == 0 and out["api_errors"] == 0, out["errors"]
    assert out["revocations"] == 20 and out["issuances"] == 6, out
    assert out["visibility_max_ms"] <= out["sync_interval_ms"], out
    assert out["audit_verify"], out["errors"]
    assert out["ocsp_requests"] > 0 and done.returncode == 0, out
