"""``openjpki ocsp produce``: sign every OCSP response that is due, ahead of need (what
``serve`` also does in the background), and say how fast."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Optional

import typer

from openjpki.cli.app import app, authority_service, fail, print_json, settings

ocsp_app = typer.Typer(help="Pre-produced OCSP responses.", no_args_is_help=True)
app.add_typer(ocsp_app, name="ocsp")


def _children(ctx: typer.Context, jobs: int, limit: Optional[int]) -> list[subprocess.Popen]:
    """``jobs - 1`` more producers in processes of their own (the store shares the work out)."""
    s = settings(ctx)
    argv = [sys.executable, "-m", "openjpki", "--home", str(s.home)]
    if s.database_url:
        argv += ["--database-url", s.database_url]
    argv += ["ocsp", "produce", "--json", "--no-seed"]
    if limit is not None:
        argv += ["--limit", str(limit)]
    return [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(jobs - 1)]


@ocsp_app.command("produce")
def produce_cmd(
    ctx: typer.Context,
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Stop after this many responses "
                                        "(per process)."),
    jobs: int = typer.Option(1, "--jobs", min=1, max=64, help="Producer processes (one signs on one core)."),
    seed: bool = typer.Option(True, "--seed/--no-seed", help="First give every certificate without a "
                              "response row one (certificates loaded into the store by other means)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Sign the due OCSP responses of every authority generation and store them; print how
    many, how fast (per second and per CPU second of the producing processes), and what is
    still due."""
    from openjpki.services.authority_setup import load_pki_config
    from openjpki.services.ocsp_producer import OcspProducer

    service = authority_service(ctx)
    config = load_pki_config(settings(ctx).config_file)
    producer = OcspProducer(service, validity=config.ocsp_validity)
    seeded = producer.seed() if seed else 0
    children = _children(ctx, jobs, limit)
    report = producer.produce(limit=limit).as_dict()
    for child in children:
        out, err = child.communicate()
        if child.returncode != 0:
            fail(f"a producer process failed: {err.strip().splitlines()[-1] if err.strip() else child.returncode}")
        other = json.loads(out)
        report["signed"] += other["signed"]
        report["cpu_seconds"] = round(report["cpu_seconds"] + other["cpu_seconds"], 3)
        report["seconds"] = max(report["seconds"], other["seconds"])
    if children:
        report["due"] = producer.due()
        report["signed_per_second"] = round(report["signed"] / report["seconds"], 1) if report["seconds"] else 0.0
        report["signed_per_cpu_second"] = (round(report["signed"] / report["cpu_seconds"], 1)
                                           if report["cpu_seconds"] else 0.0)
    report.update(seeded=seeded, jobs=jobs)
    service.store.dispose()
    if as_json:
        print_json(report)
        return
    typer.echo(f"{report['signed']} responses signed in {report['seconds']} s "
               f"({report['signed_per_second']}/s, {report['signed_per_cpu_second']} per CPU second); "
               f"due now: {sum(report['due'].values())}")
