"""HTTP: OCSP and CRL endpoints, health, problem responses; later the JSON API and pages.
``create_app(settings, clock=...)`` builds the FastAPI application."""

from openjpki.web.app import APP_EXTENSIONS, create_app

__all__ = ["APP_EXTENSIONS", "create_app"]
