"""The shape of the code: no module reaches into another's private names (``from x import
_y``, or ``x._y`` on an imported module of ours). A name another module needs is public."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "openjpki"


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _module_names(tree: ast.AST) -> set[str]:
    """Local names bound to modules of ours by ``import openjpki.x as m``."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("openjpki") and alias.asname:
                    names.add(alias.asname)
    return names


def private_reaches(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("openjpki"):
            found += [f"{path.name}:{node.lineno} from {node.module} import {a.name}"
                      for a in node.names if _private(a.name)]
    modules = _module_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr) \
                and isinstance(node.value, ast.Name) and node.value.id in modules:
            found.append(f"{path.name}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_no_module_imports_a_private_name_of_another():
    found = [f for p in sorted(SRC.rglob("*.py")) for f in private_reaches(p)]
    assert not found, "private names used across modules:\n" + "\n".join(found)


def test_the_check_sees_a_private_import(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("from openjpki.web.ocsp import _hidden\nimport openjpki.rules as r\n"
                      "r._secret()\n", encoding="utf-8")
    assert len(private_reaches(sample)) == 2
