"""The rule table: every rule the package implements, by number, with its title.

This is the one list of rule numbers the project knows (``docs/RULES.md`` is generated from
it and from the docstrings of the functions that cite each rule, so the page cannot drift
from the code). A rule number anywhere else (a :class:`~openjpki.rules.decision.Refused`, a
test name, a comment) must be one of these.

``render_markdown()`` builds the page; ``python -m openjpki.rules.catalogue`` prints it
(``scripts/docs`` writes it into ``docs/``). A test checks the page in the repository is the
one this module renders.
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from types import ModuleType
from typing import Iterable


@dataclass(frozen=True)
class Rule:
    """One rule: its number (``R3.1``), its section, and what it says, in short."""

    number: str
    title: str


@dataclass(frozen=True)
class Section:
    number: int
    title: str
    rules: tuple[Rule, ...]


def _rules(section: int, *titles: str) -> tuple[Rule, ...]:
    return tuple(Rule(f"R{section}.{i}", t) for i, t in enumerate(titles, start=1))


SECTIONS: tuple[Section, ...] = (
    Section(1, "The two certificates and their PINs", _rules(
        1,
        "What each certificate is for: SIGN signs documents, AUTH proves who logs in.",
        "What each certificate carries: SIGN the four basic facts (and 通称 / 旧氏 where "
        "registered); AUTH no personal facts.",
        "PIN forms: SIGN 6–16 characters of A–Z and 0–9 with at least one letter and one "
        "digit; AUTH exactly 4 digits.",
        "Wrong PINs in a row before the PIN locks: SIGN 5, AUTH 3.",
        "Who may hold SIGN: not, in principle, a person under 15 or an adult ward; AUTH anyone "
        "with a card (a legal representative applies for the young and for wards).",
        "The card's own resident-registry PIN (4 digits) is asked for at the counter for "
        "issuance, renewal and PIN reset.",
        "A correct PIN clears the failure count; a locked PIN is used again only after a reset; "
        "a change needs the current PIN.",
    )),
    Section(2, "Validity", _rules(
        2,
        "Both certificates end on the fifth birthday after issue or with the card, whichever "
        "comes first.",
        "SIGN never outlives the AUTH certificate on the same card.",
        "A foreign resident's certificates also end with the period of stay.",
        "A birthday on the issue day does not count; 29 February falls on 28 February in "
        "common years.",
        "The card itself lasts ten birthdays (five when issued under 18): an input to R2.1.",
        "Certificates of the old 住民基本台帳カード are no longer issued or renewed "
        "(ended 2015-12-22).",
    )),
    Section(3, "Renewal and re-issue", _rules(
        3,
        "Renewal opens the day after the date three calendar months before expiry (month "
        "ends clamp).",
        "A renewal asked for before the window is refused with the opening date.",
        "After expiry a certificate can still be issued, as a new issuance.",
        "The expiry notice with its inquiry form is mailed about three months before; renewal "
        "does not need it.",
        "Convenience-store services work from the second business day after a renewal.",
        "Fees: free, except 200 yen when issued with a paid re-issue of the card.",
        "A renewed or re-issued certificate replaces, and revokes, the earlier one of its kind.",
    )),
    Section(4, "Revocation", _rules(
        4,
        "A change of any basic fact revokes SIGN when the change is registered.",
        "Such a change leaves AUTH valid.",
        "A holder may have either certificate revoked, or held first and revoked later; a hold "
        "never returns to good.",
        "When the card ends, both certificates end with it.",
        "A SIGN revoked by a change of facts can be issued again in the same visit.",
    )),
    Section(5, "Counter procedures", _rules(
        5,
        "The procedures: issuance, renewal, re-issue after a change, PIN change, PIN reset, "
        "revocation, hold.",
        "Only a resident of this municipality with a valid card whose face is up to date.",
        "Who may apply and what each brings: the holder, a legal representative (with proof "
        "of authority), a voluntary proxy.",
        "A voluntary proxy comes twice: the inquiry form is mailed to the holder in between; "
        "an unsealed, incomplete or wrong form is refused.",
        "One visit suffices for a proxy renewing with the notice's form, or a same-household "
        "member filing the holder's move that day.",
        "SIGN for the young or a ward only by exception, with the holder present beside the "
        "legal representative.",
        "The photo identity documents accepted, originals, current and matching the register.",
        "Counter hours and closures per office, from configuration.",
        "When the central system is down, the counter keeps the card and sealed PINs and "
        "finishes later; nothing handed in is lost.",
        "A new card carries both certificates unless one was declined; a declined one can be "
        "issued later.",
        "A holder whose card was made before 15 may ask for SIGN once 15.",
    )),
    Section(6, "PIN reset at a kiosk after the smartphone step", _rules(
        6,
        "Resetting one certificate's PIN needs the other's; knowing neither means the counter.",
        "SIGN reset: the app matches the face (five failures lock it), then the kiosk within "
        "24 hours with the AUTH PIN.",
        "AUTH reset: the app reads the card with the SIGN PIN, then the kiosk within 24 hours.",
        "Kiosks work from 6:30 to 23:00.",
        "A reset clears the lock and the failure count.",
    )),
    Section(7, "Convenience-store issuance", _rules(
        7,
        "Uses the AUTH certificate and PIN; not for holders under 15.",
        "From 6:30 to 23:00, and from the second business day after a renewal.",
    )),
    Section(8, "Holder-side software", _rules(
        8,
        "With a reader the holder reads the certificates and their validity, and changes "
        "the PINs.",
    )),
)

RULES: dict[str, Rule] = {r.number: r for s in SECTIONS for r in s.rules}

_CITED = re.compile(r"\bR([1-8])\.(\d{1,2})\b")
_RANGE = re.compile(r"\bR([1-8])\.(\d{1,2})\s*[–-]\s*R?\1?\.?(\d{1,2})\b")


def cited_rules(text: str) -> set[str]:
    """The rule numbers a text cites, ranges (``R3.1–R3.6``) expanded."""
    found = {f"R{s}.{n}" for s, n in _CITED.findall(text)}
    for s, lo, hi in _RANGE.findall(text):
        found.update(f"R{s}.{n}" for n in range(int(lo), int(hi) + 1))
    return {n for n in found if n in RULES}


def enforcing_functions(modules: Iterable[ModuleType]) -> dict[str, list[str]]:
    """For each rule, the public functions and classes of ``modules`` whose own docstring
    cites it (``module.name``), sorted."""
    by_rule: dict[str, set[str]] = {n: set() for n in RULES}
    for module in modules:
        short = module.__name__.rsplit(".", 1)[-1]
        for name, obj in vars(module).items():
            if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
                continue
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            for number in cited_rules(inspect.getdoc(obj) or ""):
                by_rule[number].add(f"{short}.{name}")
    return {n: sorted(v) for n, v in by_rule.items()}


def rule_modules() -> list[ModuleType]:
    """The modules of ``openjpki.rules`` that decide rules (everything but this table)."""
    import importlib
    import pkgutil

    import openjpki.rules as package

    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
    return [importlib.import_module(f"{package.__name__}.{n}") for n in names
            if n != "catalogue"]


def render_markdown() -> str:
    """docs/RULES.md: every rule, its title, and the functions that decide it."""
    enforced = enforcing_functions(rule_modules())
    lines = [
        "# The rules as implemented",
        "",
        "Generated by `scripts/docs` from `openjpki.rules.catalogue` (the rule table) and the",
        "docstrings of the functions in `src/openjpki/rules/` that decide each rule; a test",
        "fails when this page and the code disagree. The counter, kiosk, API, pages and CLI",
        "call these functions and show the rule number of every refusal.",
        "",
    ]
    for section in SECTIONS:
        lines += [f"## {section.number}. {section.title}", "",
                  "| rule | what it says | decided in |", "|---|---|---|"]
        for rule in section.rules:
            where = ", ".join(f"`{f}`" for f in enforced[rule.number]) or "—"
            lines.append(f"| {rule.number} | {rule.title} | {where} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - the generator's entry
    sys.stdout.write(render_markdown())
