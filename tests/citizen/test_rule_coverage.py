"""Every rule these services enforce has a scenario test named after it: R3.4, R3.5, R6.1–R6.5,
R7.1, R7.2 (and R4.1 for signatures made after a move)."""

import re
from pathlib import Path

ENFORCED = ["R3.4", "R3.5", "R4.1", "R6.1", "R6.2", "R6.3", "R6.4", "R6.5", "R7.1", "R7.2"]


def test_every_enforced_rule_has_a_named_scenario():
    here = Path(__file__).parent
    text = "\n".join(p.read_text(encoding="utf-8") for p in here.glob("test_*.py")
                     if p.name != Path(__file__).name)
    names = re.findall(r"def (test_\w+)", text)
    named = {f"R{a}.{b}" for n in names for a, b in re.findall(r"(?<=_)R(\d)_(\d{1,2})(?=_)", n)}
    assert not [r for r in ENFORCED if r not in named]
