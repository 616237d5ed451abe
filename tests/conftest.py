"""Suite-wide: how tests share the machine's single services when run in parallel.

scripts/test runs pytest with two workers (pytest-xdist, ``--dist loadgroup``). There is one
vpcd virtual reader and one PostgreSQL test database, so every test that uses one of them is
kept on one worker, in its own group; everything else spreads over both.
"""

import pytest

from openjpki.store.testing import POSTGRES_SKIP_REASON, postgres_url

_SHARED = ("pcsc", "postgres")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    """The store's backend: every test that uses it runs on SQLite and, marked ``postgres``,
    on PostgreSQL (skipped, with the reason, when no server was started)."""
    if request.param == "postgres" and postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    return request.param


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in _SHARED:
            if item.get_closest_marker(name) is not None:
                item.add_marker(pytest.mark.xdist_group(name))
                break
