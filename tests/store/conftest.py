"""Every store test runs on SQLite and, marked ``postgres``, on PostgreSQL."""

import pytest

from openjpki.store.testing import POSTGRES_SKIP_REASON, open_test_store, postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request):
    if request.param == "postgres" and postgres_url() is None:
        pytest.skip(POSTGRES_SKIP_REASON)
    return request.param


@pytest.fixture
def store(backend, tmp_path):
    with open_test_store(backend, tmp_path) as s:
        yield s
