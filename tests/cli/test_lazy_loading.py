"""``openjpki`` loads only the command module(s) of the command on the line: the table that
says which module registers which command must match what the modules register, and every
command must still be reachable (and listed in help)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from openjpki.cli import ALL_MODULES, COMMAND_MODULES, command_word


def registered_modules() -> dict[str, set[str]]:
    """Each top-level command of the fully loaded app, and the modules whose callbacks it
    runs (found by walking Typer's registrations after loading every module)."""
    from openjpki.cli import load_commands
    from openjpki.cli.app import app

    load_commands()
    found: dict[str, set[str]] = {}
    for cmd in app.registered_commands:
        found.setdefault(cmd.name or cmd.callback.__name__.replace("_", "-"), set()).add(cmd.callback.__module__)

    def walk(typer_app, into: set[str]) -> None:
        for cmd in typer_app.registered_commands:
            into.add(cmd.callback.__module__)
        for group in typer_app.registered_groups:
            walk(group.typer_instance, into)
        if typer_app.registered_callback is not None:
            into.add(typer_app.registered_callback.callback.__module__)

    for group in app.registered_groups:
        mods: set[str] = set()
        walk(group.typer_instance, mods)
        found.setdefault(group.name or group.typer_instance.info.name, set()).update(mods)
    return found


def test_the_table_names_every_command_and_exactly_its_modules():
    found = registered_modules()
    table = {name: {f"openjpki.cli.{m}" for m in mods} for name, mods in COMMAND_MODULES.items()}
    assert table == found


@pytest.mark.parametrize("argv, word", [
    (["crl", "generate"], "crl"),
    (["--home", "/h", "cert", "list"], "cert"),
    (["--home=/h", "--database-url", "sqlite:///x", "rules", "pin"], "rules"),
    (["--help"], None),
    (["--home", "/h"], None),
    ([], None),
    (["--home"], None),
])
def test_the_command_word_skips_root_options_and_their_values(argv, word):
    assert command_word(argv) == word


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "openjpki", *args], capture_output=True, text=True,
                          timeout=120)


def test_a_command_loads_only_its_own_module():
    code = ("import sys; from openjpki.cli import main\n"
            "try:\n    main(['rules', 'pin', '--kind', 'auth', '1234', '--json'])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print(sorted(m for m in sys.modules if m.startswith('openjpki.cli.') and m.endswith('_cmd')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "['openjpki.cli.rules_cmd']"


def test_help_and_unknown_commands_still_see_every_command():
    listed = run_cli("--help").stdout
    for name in COMMAND_MODULES:
        assert name in listed, name
    unknown = run_cli("no-such-command")
    assert unknown.returncode == 2
    assert "no-such-command" in unknown.stderr and "Traceback" not in unknown.stderr


def test_every_module_is_in_the_table():
    import pkgutil

    import openjpki.cli as package

    modules = {i.name for i in pkgutil.iter_modules(package.__path__) if i.name.endswith("_cmd")}
    assert modules == set(ALL_MODULES)
