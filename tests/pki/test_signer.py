"""The authorities' signing interface and the key-file signer."""

from __future__ import annotations

import pickle
import stat

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from openjpki.pki import FileSigner, KeySigner, Signer


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "ca" / "sign.key.pem"
    signer = FileSigner.generate(path, b"correct horse")
    return path, signer


def test_generated_key_file_is_private_encrypted_and_reloads(key_file):
    path, signer = key_file
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError):  # encrypted: unreadable without the passphrase
        serialization.load_pem_private_key(path.read_bytes(), password=None)
    loaded = FileSigner.load(path, b"correct horse")
    assert loaded.public_key() == signer.public_key()
    key = signer.public_key()
    assert key.key_size == 2048 and key.public_numbers().e == 65537
    signature = loaded.sign(b"data")
    key.verify(signature, b"data", padding.PKCS1v15(), hashes.SHA256())
    assert isinstance(loaded, Signer)


def test_wrong_passphrase_and_empty_passphrase_are_refused(key_file):
    path, _ = key_file
    with pytest.raises(ValueError, match="cannot decrypt"):
        FileSigner.load(path, b"wrong")
    with pytest.raises(ValueError, match="passphrase"):
        FileSigner.load(path, b"")
    with pytest.raises(ValueError, match="passphrase"):
        FileSigner.generate(path.parent / "other.pem", b"")


def test_an_existing_key_file_is_never_overwritten(key_file):
    path, _ = key_file
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        FileSigner.generate(path, b"another")
    assert path.read_bytes() == before


def test_repr_and_pickle_never_show_key_material(key_file, keys):
    path, signer = key_file
    private_numbers = signer._key.private_numbers()  # noqa: SLF001 (the test looks for leaks)
    for text in (repr(signer), str(signer), repr(KeySigner(keys[0]))):
        assert "key_id=" in text
        assert format(private_numbers.d, "x")[:16] not in text and str(private_numbers.p)[:16] not in text
        assert "PRIVATE" not in text
    with pytest.raises(TypeError):
        pickle.dumps(signer)


def test_key_signer_rejects_non_rsa_keys():
    from cryptography.hazmat.primitives.asymmetric import ec

    with pytest.raises(ValueError):
        KeySigner(ec.generate_private_key(ec.SECP256R1()))  # type: ignore[arg-type]
