"""The PostgreSQL benchmarks of the production parts in quick mode: bench/register_load.py
(a register loaded with COPY, its paths timed) and bench/ocsp_nodes_bench.py (one and two
nodes against openssl ocsp, every server's answers verified by openssl)."""

from __future__ import annotations

import pytest

from openjpki.store.testing import POSTGRES_SKIP_REASON, postgres_url

from .conftest import NUMBER, run_bench

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.interop]


@pytest.fixture
def url():
    if postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    return postgres_url()


def test_quick_register_load(url):
    r = run_bench("register_load.py", "--quick", "--database-url", url, timeout=600).result
    assert r["residents"] == 20_000 and r["load_seconds"] > 0
    assert r["size"]["total_bytes"] > 20_000 * 2 * 1200  # two real DERs a resident at least
    assert r["notices_daily"]["due"] > 0
    assert 0 < r["crl_sign_full"]["entries"] < 20_000 * 0.05  # about 1 % of SIGN revoked
    assert r["counter_issuance"]["n"] == 20 and r["counter_issuance"]["p50_ms"] > 0


def test_quick_ocsp_nodes(url):
    run = run_bench("ocsp_nodes_bench.py", "--quick", "--database-url", url, timeout=600)
    for mode, runs in run.result["runs"].items():
        assert set(runs) == {"1 node", "2 nodes", "openssl ocsp"}
        for name, r in runs.items():
            assert r["verified"] and r["rps"] > 0, (mode, name)
        assert len(runs["2 nodes"]["parts"]) == 2
    lines = run.ratio_line("ocsp-nodes")
    assert len(lines) == 2 and all(NUMBER.match(line["two_vs_one"]) for line in lines)
