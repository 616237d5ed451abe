"""bench/issue_bench.py in quick mode: every side issued (or signed), the certificates it
issued verify with openssl against their roots, and the ratio line parses.  No target is
asserted (the figures are the machine's)."""

from __future__ import annotations

import pytest

from .conftest import NUMBER, openssl, run_bench


@pytest.mark.interop
def test_quick_bench_issues_both_kinds_and_compares_with_openssl_speed(tmp_path):
    run = run_bench("issue_bench.py", "--quick", "--workdir", str(tmp_path), timeout=600)
    sides = run.result["sides"]
    assert set(sides) == {"openssl", "raw", "sign", "auth", "service", "bulk", "counter"}
    for name, side in sides.items():
        assert side["ops"] > 0 and side["per_cpu_second"] > 0, name
    for kind in ("sign", "auth"):
        p = openssl("verify", "-CAfile", str(tmp_path / f"sample-{kind}-root.pem"), str(tmp_path / f"sample-{kind}.pem"))
        assert p.returncode == 0 and ": OK" in p.stdout, p.stdout + p.stderr
    (ratio,) = run.ratio_line("issue")
    assert NUMBER.match(ratio["sign"]) and NUMBER.match(ratio["auth"])
    assert float(ratio["sign"]) == sides["sign"]["ratio"]
    (stored,) = run.ratio_line("stored")
    assert float(stored["bulk"]) == sides["bulk"]["ratio"] and NUMBER.match(stored["counter"])
    assert sides["bulk"]["ops"] % 64 == 0  # whole transactions of 64


def test_the_counter_profile_splits_an_issuance_into_its_phases():
    run = run_bench("issue_profile.py", "--count", "5", timeout=300)
    phases = run.result["phases_us"]
    assert set(phases) == {"sign_row", "begin", "store_rows", "audit", "commit"}
    assert all(v > 0 for v in phases.values()) and run.result["per_cpu_second"] > 0
