"""Numbers too large for what they count are a 400 problem over HTTP and one line from the
CLI (exit 2) — never a 500, a traceback, ``OverflowError`` or a Python codec error."""

from __future__ import annotations

import pytest

from tests.security.serve_app_kit import run_cli, sandbox_client


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    return sandbox_client(tmp_path_factory.mktemp("overflow") / "home")


@pytest.mark.parametrize("by", ["99999999999d", "9" * 400 + "s", "1e9d", "36501d",
                                "-99999999999w", "1" + "0" * 30 + "h"])
def test_sandbox_time_advance_far_is_400(client, by):
    r = client.post("/api/sandbox/time/advance", json={"by": by})
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "Traceback" not in r.text
    # the connection and the server are still fine
    assert client.get("/api/sandbox/time").status_code == 200


@pytest.mark.parametrize("path", ["/api/residents/99999999999999999999999",
                                  "/api/residents/2147483648",
                                  "/api/residents/-1",
                                  "/api/letters?resident_id=99999999999999999999999",
                                  "/api/deferred/99999999999999999999999"])
def test_ids_out_of_range_are_4xx(client, path):
    r = client.get(path)
    assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/problem+json")


def test_body_ids_and_dates_out_of_range_are_4xx(client):
    for body in ({"resident_id": 10 ** 30}, {"resident_id": 2 ** 31},
                 {"resident_id": 1, "applicant": {"ids": [{"kind": "passport",
                                                           "valid_until": "99999-01-01"}]}}):
        r = client.post("/api/counter/revocation", json=body)
        assert 400 <= r.status_code < 500, (body, r.text)
    r = client.put("/api/sandbox/time", json={"now": "9999-12-31T23:59:59"})
    assert r.status_code == 400


def cli(home, *args: bytes | str) -> tuple[int, str, str]:
    return run_cli("--home", str(home), *args)


def _one_line_error(r: tuple[int, str, str]) -> str:
    code, _out, err = r
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for bad in ("Traceback", "OverflowError", "UnicodeEncodeError", "UnicodeDecodeError",
                "surrogate", "codec"):
        assert bad not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def cli_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("overflow-cli") / "home"
    code, _out, err = cli(home, "init")
    assert code == 0, err
    return home


@pytest.mark.parametrize("args", [
    ("resident", "show", "99999999999999999999999"),
    ("counter", "revoke", "99999999999999999999999"),
    ("register", "move", "2147483648", "--address", "x"),
    ("sandbox", "time", "advance", "99999999999d"),
    ("sandbox", "time", "set", "99999-01-01"),
    ("queue", "show", "99999999999999999999999"),
    ("counter", "issue", "1", "--representative", "99999999999999999999999"),
])
def test_cli_numbers_too_large_are_one_line(cli_home, args):
    _one_line_error(cli(cli_home, *args))


@pytest.mark.parametrize("args", [
    (b"resident", b"add", b"--name", b"\xff\xfe", b"--address", b"x", b"--birth",
     b"1990-01-01", b"--sex", b"male"),
    (b"resident", b"list", b"--name", b"\xe3\x81"),
    (b"sandbox", b"time", b"advance", b"\x80d"),
])
def test_cli_non_utf8_arguments_are_one_line(cli_home, args):
    line = _one_line_error(cli(cli_home, *args))
    assert "UTF-8" in line
