"""bench/ocsp_bench.py in quick mode: both responders serve the same certificates, their
answers verify with ``openssl ocsp -respin`` and say good / revoked, wrk measured both, and
the ratio line parses.  No target is asserted (the figures are the machine's)."""

from __future__ import annotations

import pytest

from .conftest import NUMBER, openssl, run_bench


@pytest.mark.interop
def test_quick_bench_serves_verified_answers_from_both_responders(tmp_path):
    run = run_bench("ocsp_bench.py", "--quick", "--workdir", str(tmp_path), timeout=600)
    r = run.result
    assert r["certs"] == 10 and r["configs"]
    for config in r["configs"]:
        for side in ("ours", "openssl"):
            measured = config[side]
            assert measured["rps"] > 0 and measured["requests"] > 0, (side, measured)
            assert measured["non_2xx"] == 0
            statuses = {c["status"]: c for c in measured["checks"]}
            assert set(statuses) == {"good", "revoked"}
            for check in statuses.values():
                assert check["verified"] and check["status_ok"], (side, check)
    # once more, by hand: the saved answer for the known good serial, from each side
    root = tmp_path / "openssl" / "root.pem"
    for side in ("ours", "openssl"):
        answer = tmp_path / f"{side}-1-good.der"
        serial = next(c for c in r["configs"][0][side]["checks"] if c["status"] == "good")
        assert serial["file"] == str(answer)
        p = openssl("ocsp", "-respin", str(answer), "-issuer", str(root), "-CAfile", str(root), "-no_nonce",
                    "-resp_text")
        text = p.stdout + p.stderr
        assert "Response verify OK" in text and "Cert Status: good" in text, text[-1500:]
    ratios = run.ratio_line("ocsp")
    assert len(ratios) == len(r["configs"])
    for ratio in ratios:
        assert ratio["workers"] == "1" and ratio["connection"] in ("close", "keep-alive")
        assert NUMBER.match(ratio["rps"]) and NUMBER.match(ratio["p99"])
