"""bench/platform_bench.py in quick mode: the in-process verifier, pyhanko-certvalidator and
``openjpki serve`` (1 and 2 workers) all measured on the same certificate, every measured
login answered 200 (fresh nonces, the holder found through the AUTH link), and the ratio
lines parse. No target is asserted (the figures are the machine's)."""

from __future__ import annotations

import pytest

from .conftest import NUMBER, run_bench


@pytest.mark.slow
@pytest.mark.interop
def test_quick_bench_measures_verified_logins_over_http_and_both_references():
    run = run_bench("platform_bench.py", "--quick", timeout=600)
    r = run.result
    assert r["in_process_per_second"] > 0 and r["pyhanko_per_second"] > 0 and r["cli_per_second"] > 0
    assert set(r["http"]) == {"pem_1w", "jwe_1w", "pem_2w", "jwe_2w"}
    for name, measured in r["http"].items():
        assert measured["ok"] == measured["requests"] and measured["statuses"] == [200], (name, measured)
        assert measured["rps"] > 0 and measured["p99_ms"] >= measured["p50_ms"] > 0
    ratios = run.ratio_line("platform")
    assert {x["run"] for x in ratios} == set(r["http"])
    for x in ratios:
        assert NUMBER.match(x["rps"]) and NUMBER.match(x["vs_in_process"]) and NUMBER.match(x["vs_pyhanko"])
