"""bench/hsm_bench.py in quick mode: both sides signed certificates and OCSP responses
(checked against their roots inside the bench), and the ratio line parses."""

from __future__ import annotations

import pytest

from tests.hsm.softhsm import SKIP_REASON, available

from .conftest import NUMBER, run_bench


@pytest.mark.interop
def test_quick_hsm_bench_compares_the_token_with_the_key_file():
    if not available():
        pytest.skip(SKIP_REASON)
    run = run_bench("hsm_bench.py", "--quick", timeout=300)
    sides = run.result["sides"]
    assert set(sides) == {"softhsm2", "file key"}
    for side in sides.values():
        for what in ("certificates", "ocsp"):
            assert side[what]["ops"] >= 16 and side[what]["per_second"] > 0
    (ratio,) = run.ratio_line("hsm")
    assert NUMBER.match(ratio["certificates"]) and NUMBER.match(ratio["ocsp"])
