"""Every store test runs on SQLite and, marked ``postgres``, on PostgreSQL."""

import pytest

from openjpki.store.testing import open_test_store


@pytest.fixture
def store(backend, tmp_path):
    with open_test_store(backend, tmp_path) as s:
        yield s
