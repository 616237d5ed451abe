"""Every rule of RULES.md §1–§7 has at least one test named after it, and the public API
is exported from ``openjpki.rules``."""

import inspect
import re
from pathlib import Path

import openjpki.rules as rules

RULES = {
    1: 7, 2: 6, 3: 7, 4: 5, 5: 11, 6: 5, 7: 2,  # section: number of rules (RULES.md)
}
HERE = Path(__file__).parent


def test_every_rule_R1_to_R7_has_a_named_test():
    text = "\n".join(p.read_text(encoding="utf-8") for p in
                     [*HERE.glob("test_rules_*.py"), HERE.parent / "cli" / "test_rules_cli.py"]
                     if p.name != Path(__file__).name)
    named = set(re.findall(r"R(\d)_(\d{1,2})_", text))
    missing = [f"R{s}.{n}" for s, count in RULES.items() for n in range(1, count + 1)
               if (str(s), str(n)) not in named]
    assert not missing, f"rules without a named test: {missing}"


def test_public_api_is_exported_and_documented():
    for name in rules.__all__:
        obj = getattr(rules, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert obj.__doc__, f"{name} has no docstring"
