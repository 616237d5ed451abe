"""The app ``openjpki serve`` runs: the base app (OCSP, CRLs, pages, relying party) plus the
JSON API with the deferred worker (R5.9), the sandbox controls in the mode in force, and the
OCSP producer and CRL publisher threads (web.background).

``serve_app_from_environment`` is the factory uvicorn calls in each worker process when
``serve --workers N`` starts several: the home, the database and the mode come from the
environment (``$OPENJPKI_HOME``, ``$OPENJPKI_DATABASE_URL``, ``$OPENJPKI_SERVICE_MODE``), which
``serve`` sets before starting them.

``OCSP_FRONT`` is the HTTP protocol ``serve`` gives uvicorn (``http=``): OCSP answered on the
connection, everything else by uvicorn's own protocol and the app (see web.ocsp_front).
"""

from __future__ import annotations

from typing import Optional

from fastapi import FastAPI

from openjpki.config import Settings
from openjpki.private_home import set_private_umask
from openjpki.services.sandbox_mode import resolve_mode
from openjpki.web.api import serve_extensions
from openjpki.web.app import create_app
from openjpki.web.background import background_extension
from openjpki.web.sandbox import sandbox_extension

OCSP_FRONT = "openjpki.web.ocsp_front:OcspFront"


def serve_app(settings: Optional[Settings] = None, *, production: bool = False) -> FastAPI:
    s = settings or Settings.resolve()
    mode = resolve_mode(s, production=production)
    return create_app(s, extensions=[*serve_extensions(), sandbox_extension(mode), background_extension])


def serve_app_from_environment() -> FastAPI:
    set_private_umask()  # a worker process writes into the home as `serve` does
    return serve_app()
