"""Key files in the home: created once at 0600, read back unchanged afterwards."""

import stat

from openjpki.keyfile import load_or_create_key


def test_key_is_created_once_private_and_read_back(tmp_path):
    path = tmp_path / "keys" / "k.key"
    first = load_or_create_key(path)
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == first


def test_an_existing_file_is_returned_as_it_is(tmp_path):
    path = tmp_path / "short.key"
    path.write_bytes(b"abc")
    assert load_or_create_key(path) == b"abc"  # the caller refuses the wrong length
