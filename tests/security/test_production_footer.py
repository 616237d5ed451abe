"""A production server's pages do not call themselves a sandbox: the footer says
サンドボックス (test data) only in sandbox mode, in both languages."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from openjpki.rules import JST

PAGES = ["/", "/counter/login", "/kiosk", "/kiosk/konbini", "/portal", "/counter/nowhere"]
FOOTER = re.compile(r'<footer class="bottom" id="footer">(.*?)</footer>', re.S)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    from openjpki.config import Settings
    from openjpki.services.authority_home import initialise_home

    settings = Settings.resolve(tmp_path_factory.mktemp("footer-home"))
    initialise_home(settings, now=datetime(2025, 1, 6, 9, 0, tzinfo=JST))
    return settings


def footers(home, monkeypatch, mode: str, lang: str) -> dict[str, tuple[str, str]]:
    from openjpki.services.sandbox_mode import MODE_ENV
    from openjpki.web import create_app
    from openjpki.web.pages import pages_extension

    monkeypatch.setenv(MODE_ENV, mode)
    app = create_app(home, sync_interval=0.0, extensions=[pages_extension])
    out = {}
    with TestClient(app) as client:
        for path in PAGES:
            r = client.get(path, params={"lang": lang})
            m = FOOTER.search(r.text)
            assert m, (path, r.status_code, r.text[:300])
            out[path] = (m.group(1), r.text)
    return out


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_production_footer_does_not_say_sandbox(home, monkeypatch, lang):
    for path, (footer, page) in footers(home, monkeypatch, "production", lang).items():
        assert "サンドボックス" not in footer and "sandbox" not in footer.lower(), (path, footer)
        assert "公的個人認証サービス" in footer or "Public Certification" in footer
        assert 'data-mode="sandbox"' not in page, path


def test_sandbox_footer_says_so(home, monkeypatch):
    for path, (footer, _) in footers(home, monkeypatch, "sandbox", "ja").items():
        assert "サンドボックス" in footer, (path, footer)
