"""`openjpki rules …` (filled by the rules work)."""

from openjpki.cli.app import app
import typer

rules_app = typer.Typer(help="Ask the JPKI rules (RULES.md) a question.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")
