"""The project's own documents in docs/ say what the code does: the generated rules page is
current, and every rule number the code cites is one of the rule table's."""

import re
from pathlib import Path

from openjpki.rules.catalogue import RULES, cited_rules, render_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_docs_rules_page_is_the_one_the_rule_table_renders():
    page = (ROOT / "docs" / "RULES.md").read_text(encoding="utf-8")
    assert page == render_markdown(), "docs/RULES.md is stale: run scripts/docs"


def test_every_rule_of_the_table_is_decided_by_a_named_function():
    page = render_markdown()
    undecided = [line.split("|")[1].strip() for line in page.splitlines()
                 if line.startswith("| R") and line.rstrip().endswith("| — |")]
    # R8.1 is the holder software itself (openjpki.card.client), not a decision of rules.
    assert undecided == ["R8.1"], undecided


def test_every_rule_number_cited_in_the_code_is_in_the_rule_table():
    unknown = {}
    for path in (ROOT / "src" / "openjpki").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"\bR([1-9])\.(\d{1,2})\b", text):
            number = f"R{match.group(1)}.{match.group(2)}"
            if number not in RULES:
                unknown.setdefault(number, str(path.relative_to(ROOT)))
    assert not unknown, f"rule numbers not in openjpki.rules.catalogue: {unknown}"


def test_ranges_are_expanded_when_collecting_citations():
    assert cited_rules("see R3.1–R3.3 and R4.5") == {"R3.1", "R3.2", "R3.3", "R4.5"}
    assert cited_rules("R9.9 is not a rule") == set()


def test_docs_cli_and_http_references_are_the_ones_the_code_renders():
    from openjpki.cli.reference import render_cli, render_http

    for name, render in (("CLI.md", render_cli), ("HTTP.md", render_http)):
        page = (ROOT / "docs" / name).read_text(encoding="utf-8")
        assert page == render(), f"docs/{name} is stale: run scripts/docs"
