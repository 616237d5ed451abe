"""bench/notices_bench.py --quick runs and its figures add up (the selection finds exactly
the due certificates the rule names, on a register it loaded itself)."""

from __future__ import annotations

import importlib.util
import json
from datetime import date
from pathlib import Path

from openjpki.rules import expiry_notice_due

BENCH = Path(__file__).resolve().parents[2] / "bench" / "notices_bench.py"


def test_quick_bench_selection_matches_the_rule(capsys):
    spec = importlib.util.spec_from_file_location("notices_bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--quick", "--residents", "3000", "--backend", "sqlite", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    (r,) = out["results"]
    # What the rule says is due, computed from the generated register in Python.
    due = set()
    for res, card, links, certs in bench.rows(3000):
        status = {c[0]: c[8] for c in certs}
        for link in links:
            serial, not_after, rule = link[2], link[3], link[4]
            ended_by_stay = res[10] is not None and res[10] == not_after
            if res[14] and status[serial] == "good" and expiry_notice_due(
                    not_after, bench.ON, expiry_rule="R2.3" if ended_by_stay else rule):
                due.add(serial)
    assert r["catch_up"]["rows"] == len(due) > 0
    assert 0 < r["daily"]["rows"] < r["catch_up"]["rows"]
    assert out["rendering"]["letters"] == 3 and out["rendering"]["per_s"] > 0
