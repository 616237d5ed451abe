"""Suite-wide: how tests share the machine's single services when run in parallel.

scripts/test runs pytest with two workers (pytest-xdist, ``--dist loadgroup``). There is one
vpcd virtual reader and one PostgreSQL test database, so every test that uses one of them is
kept on one worker, in its own group; everything else spreads over both.
"""

import pytest

_SHARED = ("pcsc", "postgres")


def pytest_collection_modifyitems(config, items):
    for item in items:
        for name in _SHARED:
            if item.get_closest_marker(name) is not None:
                item.add_marker(pytest.mark.xdist_group(name))
                break
