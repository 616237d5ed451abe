"""Property tests of the platform API from its own description (docs/platform-openapi.yaml,
schemathesis): inputs that fit the request schemas and inputs that do not, on every path,
never get a server error, never a status the call's table lacks, and never an answer outside
the response schemas (which allow no unknown member). The home has a registered holder, and
the generated bodies mix in a real certificate and signature so some reach the verification."""

from __future__ import annotations

import os

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from openjpki.web import create_app

from .kit import ALLOWED, openapi, signed

EXAMPLES = int(os.environ.get("OPENJPKI_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def test_no_input_gets_a_server_error_or_an_answer_out_of_shape(home, clock, holder):
    app = create_app(home.settings, clock=clock)
    with TestClient(app) as client:  # a registered holder, so some calls get past the lookup
        r = client.post("/verify/registration", json=signed("registration", "ID123", holder["sign"],
                                                            holder["sign_key"]))
        assert r.status_code == 200
    real = signed("login", "ID123", holder["auth"], holder["auth_key"])
    schema = schemathesis.openapi.from_dict(openapi())
    schema.app = app
    failures: list[str] = []
    seen: set[tuple[str, int]] = set()
    mixed = [0]
    operations = [r.ok() for r in schema.get_all_operations()]
    assert {op.path for op in operations} == {"/verify/registration", "/verify/login", "/verify/replacement",
                                             "/key/jwks.json"}
    for op in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                      suppress_health_check=list(HealthCheck))
            def run(case) -> None:
                if op.path == "/verify/login" and isinstance(case.body, dict) and mode is GenerationMode.POSITIVE:
                    mixed[0] += 1
                    if mixed[0] % 2:  # the generated requestInfo with a real certificate and signature
                        case.body = {**real, "requestInfo": case.body.get("requestInfo", real["requestInfo"])}
                response = case.call()
                seen.add((op.path, response.status_code))
                try:
                    case.validate_response(response, checks=CHECKS)
                except Exception as e:  # noqa: BLE001 — collected, reported together
                    failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {e}")
                call = op.path.rsplit("/", 1)[-1]
                if call in ALLOWED and response.status_code not in ALLOWED[call]:
                    failures.append(f"{op.path}: status {response.status_code}")
            try:
                run()
            except Exception as e:  # noqa: BLE001 — e.g. nothing can be generated
                if "Unsatisfiable" not in type(e).__name__:
                    failures.append(f"{op.method.upper()} {op.path} ({mode.value}): {type(e).__name__}: {e}")
    assert not failures, "\n".join(failures[:10])
    assert ("/verify/login", 400) in seen and ("/key/jwks.json", 200) in seen
    assert any(path == "/verify/login" and status in (401, 404, 200) for path, status in seen), seen


pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::DeprecationWarning")]
