"""The app ``openjpki serve`` runs (API, pages, sandbox), in process on a fresh sandbox home,
for the input tests of tests/security (server exceptions answered, not raised)."""

from __future__ import annotations

from datetime import datetime

from fastapi.testclient import TestClient

from openjpki.config import Settings
from openjpki.rules import JST
from openjpki.services.authority_home import initialise_home
from openjpki.web.serving import serve_app


def sandbox_client(home) -> TestClient:
    settings = Settings.resolve(home)
    initialise_home(settings, now=datetime(2025, 1, 6, 9, 0, tzinfo=JST))
    return TestClient(serve_app(settings), raise_server_exceptions=False)
