"""What `create_app` serves out of the box: every part's routes are mounted (CLI.md paths)."""

from openjpki.config import Settings
from openjpki.web import create_app


def _paths(routes, prefix=""):
    for r in routes:
        path = prefix + getattr(r, "path", "")
        yield path
        yield from _paths(getattr(r, "routes", None) or (), path)


def test_app_mounts_pages_and_relying_party(tmp_path):
    app = create_app(Settings.resolve(home=tmp_path))
    paths = set(_paths(app.routes))
    for expected in ("/counter", "/kiosk", "/portal", "/api/rp/challenges", "/rp/sample",
                     "/crl/sign.crl", "/healthz"):
        assert any(p == expected or p.startswith(expected + "/") for p in paths), expected
