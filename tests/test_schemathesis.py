"""Property tests of the JSON API from its own OpenAPI description (schemathesis): inputs that
fit the schema and inputs that do not, on every operation, never get a server error — only
answers or 4xx problem responses. The app runs on a real home (SQLite) seeded with residents
who hold cards, with the clock on a weekday morning so procedures reach the rules and the
card rather than stopping at office hours; bounded examples keep it under two minutes. Every
case carries a supervisor's API token (``Authorization: Bearer``, as the schema's security
scheme says), so the routes are reached past the token check; negative cases may drop or
mangle it.

Speed only: the cards draw their "new" RSA keys from a small pre-generated pool.
"""

from __future__ import annotations

import itertools
import os
import time
from datetime import datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from openjpki.config import Settings
from openjpki.rules import JST

T0 = datetime(2025, 4, 1, 10, 0, tzinfo=JST)
PINS = {"card": "1234", "sign": "ABC123", "auth": "5678"}


def _app(home):
    from openjpki.web import create_app
    from openjpki.web.api import api_extension

    return create_app(Settings.resolve(home), clock=lambda: T0, sync_interval=0.0,
                      extensions=[api_extension])


@pytest.fixture(scope="module")
def seeded_app(tmp_path_factory):
    from cryptography.hazmat.primitives.asymmetric import rsa
    from fastapi.testclient import TestClient

    from openjpki.card import rsaops
    from openjpki.services.authority_home import initialise_home

    keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(8)]
    pool = itertools.cycle(keys)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(rsaops, "generate_key", lambda: next(pool))
        home = tmp_path_factory.mktemp("schemathesis-home")
        initialise_home(Settings.resolve(home), now=datetime(2025, 1, 6, 9, tzinfo=JST))
        token = _supervisor_token(home)
        app = _app(home)
        with TestClient(app) as client:
            for i in range(3):
                r = client.post("/api/residents", json={
                    "name": f"試験　{i}", "address": "埼玉県川口市青木二丁目1番1号",
                    "birth_date": "1980-05-15", "sex": "male"})
                assert r.status_code == 201
                r = client.post("/api/counter/issuance", json={"resident_id": r.json()["id"],
                                                               "pins": PINS})
                assert r.status_code == 200, r.text
        yield app, token


def _supervisor_token(home) -> str:
    from openjpki.services.clerk_tokens import create_token
    from openjpki.services.clerks import add_clerk
    from openjpki.store import Store

    store = Store.open(Settings.resolve(home).effective_database_url)
    try:
        add_clerk(store, "schemathesis", "a-long-enough-password", role="supervisor", now=T0)
        return create_token(store, "schemathesis", now=T0).token
    finally:
        store.dispose()


EXAMPLES = int(os.environ.get("OPENJPKI_SCHEMATHESIS_EXAMPLES", "10"))  # per operation and mode


def test_no_input_gets_a_server_error(seeded_app):
    """Every operation, with inputs that fit its schema and inputs that do not."""
    from hypothesis import given

    from schemathesis import GenerationMode

    app, token = seeded_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)

    @schema.auth()
    class ClerkToken:
        def get(self, case, context) -> str:
            return token

        def set(self, case, data, context) -> None:
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}

    failures: list[str] = []
    calls = {"n": 0}
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 30
    only = os.environ.get("OPENJPKI_SCHEMATHESIS_ONLY")
    if only:
        operations = [op for op in operations if only in op.path]

    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case) -> None:
                calls["n"] += 1
                response = case.call()
                try:
                    case.validate_response(response, checks=[not_a_server_error])
                except Exception as e:  # noqa: BLE001 — collected, reported together
                    failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {e}")
                    return
                if response.status_code >= 400:
                    ctype = response.headers.get("content-type", "")
                    if isinstance(ctype, list):
                        ctype = ctype[0] if ctype else ""
                    if not ctype.startswith("application/problem+json"):
                        failures.append(f"{op.method.upper()} {op.path}: {response.status_code}"
                                        f" answered {ctype}, not a problem response")
            started = time.monotonic()
            try:
                run()
            except Exception as e:  # noqa: BLE001 — e.g. nothing can be generated
                if "Unsatisfiable" not in type(e).__name__:
                    failures.append(f"{op.method.upper()} {op.path} ({mode.value}): "
                                    f"{type(e).__name__}: {e}")
            if os.environ.get("OPENJPKI_SCHEMATHESIS_VERBOSE"):
                print(f"{op.method.upper()} {op.path} {mode.value}: "
                      f"{time.monotonic() - started:.2f} s", flush=True)
    assert not failures, "\n".join(failures[:20])
    assert calls["n"] >= len(operations) * 4
