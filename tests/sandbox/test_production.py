"""Production mode refuses every sandbox call — each CLI command (one line naming sandbox
mode, exit 1) and each API route (403 problem) — and a production server reads none of the
sandbox settings: wall clock, no faults. Which mode a home is in (services.sandbox_mode)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from fastapi.testclient import TestClient

from openjpki.config import Settings
from openjpki.rules import JST
from openjpki.services.authority_home import open_authorities
from openjpki.services.authority_testing import issue_sample
from openjpki.services.sandbox_clock import set_clock
from openjpki.services.sandbox_faults import clear_faults, set_fault
from openjpki.services.sandbox_mode import (
    ModeConfigError, SandboxRefused, require_sandbox, resolve_mode,
)

from .kit import make_home, real_now, sandbox_app

PG = "postgresql+psycopg://u@localhost/db"


def _settings(tmp_path: Path, config: str = "", url: str | None = None) -> Settings:
    tmp_path.mkdir(parents=True, exist_ok=True)
    if config:
        (tmp_path / "openjpki.toml").write_text(config, encoding="utf-8")
    return Settings.resolve(tmp_path, url)


@pytest.mark.parametrize("config, url, production, env, expected", [
    ("", None, False, None, "sandbox"),                                   # embedded SQLite
    ("", PG, False, None, "production"),                                  # PostgreSQL
    ('[service]\nmode = "sandbox"\n', PG, False, None, "sandbox"),        # the operator says
    ('[service]\nmode = "production"\n', None, False, None, "production"),
    ('[service]\nmode = "sandbox"\n', None, True, None, "production"),    # serve --production
    ('[service]\nmode = "sandbox"\n', None, False, "production", "production"),  # workers' env
    ("", PG, False, "sandbox", "sandbox"),
])
def test_which_mode(tmp_path, monkeypatch, config, url, production, env, expected):
    if env:
        monkeypatch.setenv("OPENJPKI_SERVICE_MODE", env)
    mode = resolve_mode(_settings(tmp_path, config, url), production=production)
    assert mode.name == expected
    if expected == "production":
        with pytest.raises(SandboxRefused) as e:
            require_sandbox(mode)
        assert "sandbox mode" in str(e.value) and "サンドボックスモード" in str(e.value)


@pytest.mark.parametrize("config", ['[service]\nmode = "staging"\n', "[service\n",
                                    'service = "production"\n'])
def test_a_bad_mode_setting_is_an_error(tmp_path, config):
    with pytest.raises(ModeConfigError):
        resolve_mode(_settings(tmp_path, config))


@pytest.fixture(scope="module")
def production_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("production") / "home"
    settings = make_home(home, config='[service]\nmode = "production"')
    service = open_authorities(settings)
    rec = issue_sample(service, "auth", now=real_now() - timedelta(hours=1))
    yield home, settings, service, rec
    service.store.dispose()


COMMANDS = [
    ("status",), ("time", "show"), ("time", "set", "2030-01-01"), ("time", "advance", "90d"),
    ("time", "reset"), ("fault", "ocsp", "tryLater"), ("fault", "ocsp", "off"),
    ("fault", "crl", "missing"), ("fault", "show"), ("fault", "clear"),
    ("pin", "mnc-000000000001", "--kind", "auth", "--block"),
    ("card", "show", "mnc-000000000001"), ("card", "end", "mnc-000000000001", "--as", "lost"),
    ("cert", "revoke", "abcdef", "--reason", "keyCompromise"), ("cert", "hold", "abcdef"),
    ("resident", "create", "--state", "expired"), ("resident", "change", "1", "--name", "誰　か"),
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_cli_command_is_refused_in_production(production_home, cli, args):
    r = cli(production_home[0], "sandbox", *args)
    assert r.code == 1, (r.out, r.err)
    assert r.out.count("\n") == 1 and "sandbox mode" in r.out and "production" in r.out
    r = cli(production_home[0], "sandbox", *args, "--json")
    assert r.code == 1 and r.json()["outcome"] == "refused" and r.json()["mode"] == "production"


def test_every_command_of_the_group_is_in_the_table():
    """A new sandbox command must be added to COMMANDS (and so be checked above)."""
    from openjpki.cli.sandbox_cmd import sandbox_app

    names = set()
    for info in sandbox_app.registered_commands:
        names.add((info.name,))
    for group in sandbox_app.registered_groups:
        for info in group.typer_instance.registered_commands:
            names.add((group.name, info.name))
    covered = {a[:1] if a[0] in ("status", "pin") else a[:2] for a in COMMANDS}
    assert names <= covered, names - covered


@pytest.fixture(scope="module")
def production_client(production_home):
    home, settings, _, _ = production_home
    app = sandbox_app(settings, sync_interval=0.0)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.fastapi = app
        yield client


def test_every_api_route_is_refused_in_production(production_client):
    paths = production_client.fastapi.openapi()["paths"]
    routes = [(m.upper(), p) for p, ops in paths.items() if p.startswith("/api/sandbox")
              for m in ops]
    assert len(routes) >= 14
    for method, path in routes:
        url = path.format(card="mnc-1", kind="auth", serial="abcdef", resident_id=1)
        r = production_client.request(method, url, json={})
        assert r.status_code == 403, (method, url, r.text)
        body = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert body["title"] == "Sandbox mode only" and "sandbox mode" in body["detail"]
        assert body["mode"] == "production" and body["message_ja"]


def test_a_production_server_ignores_the_sandbox_settings(production_home, production_client):
    """Even if something wrote sandbox settings into the store, production answers on the wall
    clock and with no fault."""
    _, settings, service, rec = production_home
    set_clock(service.store, datetime(2031, 1, 1, 12, 0, tzinfo=JST), real=real_now())
    set_fault(service.store, "ocsp", "tryLater", now=real_now())
    set_fault(service.store, "crl", "missing", now=real_now())
    try:
        req = (ocsp.OCSPRequestBuilder().add_certificate(rec.certificate, service.root("auth"),
                                                         hashes.SHA1()).build())
        r = production_client.post("/ocsp", content=req.public_bytes(serialization.Encoding.DER))
        answer = ocsp.load_der_ocsp_response(r.content)
        assert answer.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert abs(answer.this_update_utc - real_now()) < timedelta(minutes=2)
        assert production_client.get("/crl/auth.crl").status_code == 200
    finally:
        clear_faults(service.store, now=real_now())
