"""What `create_app` serves out of the box: every part's routes are mounted (CLI.md paths)."""

from openjpki.config import Settings
from openjpki.web import create_app


def test_app_mounts_pages_and_relying_party(tmp_path):
    app = create_app(Settings.resolve(home=tmp_path))
    paths = {getattr(r, "path", "") for r in app.routes}
    for expected in ("/counter", "/kiosk", "/portal", "/api/rp/challenges", "/rp/sample",
                     "/crl/sign.crl", "/healthz"):
        assert any(p == expected or p.startswith(expected + "/") for p in paths), expected
