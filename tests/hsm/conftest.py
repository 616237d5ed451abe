import os

import pytest

from tests.hsm.softhsm import SKIP_REASON, SoftHsm, available


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory):
    """The run's SoftHSM2 directory, with one token ("shared") made before any test loads
    the library in this process; SOFTHSM2_CONF points at it for the whole run."""
    if not available():
        pytest.skip(SKIP_REASON)
    hsm = SoftHsm.make(tmp_path_factory.mktemp("softhsm"))
    hsm.new_token("shared")
    old = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    yield hsm
    if old is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = old
