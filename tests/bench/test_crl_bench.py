"""bench/crl_bench.py in quick mode, and the streaming CRL writer it measures.

The figures are the machine's; what must hold anywhere is checked: both sides' CRLs verify
with openssl and hold the same entries, our generation streams (bounded memory), and
``write_crl`` writes exactly the bytes ``build_crl`` returns.
"""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from openjpki.pki import (
    DigestSigner, KeySigner, Kind, build_crl, encode_revoked_entry, make_root, write_crl,
)

from .conftest import NUMBER, openssl, run_bench

NOW = datetime(2026, 4, 1, 3, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ca():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signer = KeySigner(key)
    return key, signer, make_root(Kind.SIGN, signer, not_before=NOW - timedelta(days=30))


class BareSigner:
    """A Signer without sign_digest (an HSM binding that only signs whole messages)."""

    def __init__(self, key):
        self._key = key

    def public_key(self):
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def entries(n: int, seed: int = 7) -> list[bytes]:
    rng = random.Random(seed)
    reasons = [None, x509.ReasonFlags.superseded, x509.ReasonFlags.affiliation_changed,
               x509.ReasonFlags.certificate_hold, x509.ReasonFlags.key_compromise]
    return [encode_revoked_entry((1 << 126) | rng.getrandbits(126), NOW - timedelta(seconds=rng.randrange(10**8)),
                                 reasons[i % len(reasons)]) for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 3, 2000])
@pytest.mark.parametrize("partition", [None, ("東京都", "千代田区")])
@pytest.mark.parametrize("bare", [False, True], ids=["sign_digest", "sign"])
def test_write_crl_writes_exactly_what_build_crl_returns(ca, n, partition, bare):
    key, signer, root = ca
    items = entries(n)
    signer_used = BareSigner(key) if bare else signer
    assert isinstance(signer_used, DigestSigner) is not bare
    expected = build_crl(issuer=root, signer=signer, entries=items, crl_number=42, this_update=NOW,
                         next_update=NOW + timedelta(days=1), partition=partition)
    out = io.BytesIO()
    written = write_crl(out, issuer=root, signer=signer_used, entries=iter(items), crl_number=42, this_update=NOW,
                        next_update=NOW + timedelta(days=1), partition=partition)
    assert out.getvalue() == expected  # PKCS#1 v1.5 is deterministic: the very same bytes
    assert (written.entries, written.size, written.sha256) == (n, len(expected), hashlib.sha256(expected).digest())
    crl = x509.load_der_x509_crl(expected)
    assert len(crl) == n and crl.is_signature_valid(root.public_key())


def test_write_crl_takes_the_entries_in_batches_too(ca):
    _, signer, root = ca
    items = entries(5000)
    expected = build_crl(issuer=root, signer=signer, entries=items, crl_number=3, this_update=NOW,
                         next_update=NOW + timedelta(days=1))
    out = io.BytesIO()
    batches = [items[i:i + 777] for i in range(0, len(items), 777)] + [[]]
    written = write_crl(out, issuer=root, signer=signer, entry_batches=iter(batches), crl_number=3,
                        this_update=NOW, next_update=NOW + timedelta(days=1))
    assert out.getvalue() == expected and written.entries == 5000
    with pytest.raises(ValueError, match="either"):
        write_crl(io.BytesIO(), issuer=root, signer=signer, entries=items, entry_batches=batches, crl_number=3,
                  this_update=NOW, next_update=NOW + timedelta(days=1))


def test_sign_digest_is_sign_of_the_message(ca):
    key, signer, _ = ca
    message = b"TBSCertList" * 100
    assert signer.sign_digest(hashlib.sha256(message).digest()) == signer.sign(message)
    with pytest.raises(ValueError):
        signer.sign_digest(b"\x00" * 20)


def test_write_crl_holds_no_entry_list_in_memory(ca, tmp_path):
    """200,000 entries streamed from a generator: Python allocations stay far below the
    ~10 MB the entries take (they go through a spool file, 8192 at a time).  The generator
    cycles through 1,000 prepared entries so that it allocates nothing itself."""
    _, signer, root = ca
    prepared = entries(1000, seed=3)

    def stream():
        for i in range(200_000):
            yield prepared[i % 1000]

    tracemalloc.start()
    try:
        with open(tmp_path / "big.crl", "wb") as out:
            written = write_crl(out, issuer=root, signer=signer, entries=stream(), crl_number=1, this_update=NOW,
                                next_update=NOW + timedelta(hours=24))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert written.entries == 200_000
    assert peak < 4 * 2**20, f"peak Python allocations {peak / 2**20:.1f} MB"
    root_file = tmp_path / "root.pem"
    root_file.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    p = openssl("crl", "-in", str(tmp_path / "big.crl"), "-inform", "DER", "-noout", "-CAfile", str(root_file))
    assert "verify OK" in p.stdout + p.stderr


@pytest.mark.interop
def test_quick_bench_both_sides_verify_and_agree(tmp_path):
    run = run_bench("crl_bench.py", "--quick", "--workdir", str(tmp_path), timeout=600)
    r = run.result
    for side in ("ours", "openssl"):
        assert r[side]["verified"], f"{side}'s CRL does not verify with openssl"
        assert r[side]["entries"] == r["entries"] == 20_000
        assert r[side]["seconds"] > 0 and r[side]["peak_rss_mb"] > 0
    assert r["same_serials"] is True
    # our file, checked again here by openssl itself
    p = openssl("crl", "-in", r["files"]["ours"], "-inform", "DER", "-noout", "-CAfile", r["files"]["root"])
    assert "verify OK" in p.stdout + p.stderr
    (ratio,) = run.ratio_line("crl")
    assert ratio["entries"] == "20000"
    assert NUMBER.match(ratio["speed"]) and NUMBER.match(ratio["memory"])


@pytest.mark.slow
@pytest.mark.interop
def test_our_crl_of_200k_entries_streams_in_bounded_memory(tmp_path):
    """The service streams 200,000 stored entries to a file: its whole process (Python,
    SQLAlchemy, cryptography included) stays under 250 MB."""
    run = run_bench("crl_bench.py", "--entries", "200000", "--sides", "ours", "--repeat", "1",
                    "--workdir", str(tmp_path), timeout=900)
    ours = run.result["ours"]
    assert ours["verified"] and ours["entries"] == 200_000
    assert ours["peak_rss_mb"] < 250, ours


def test_service_writes_the_same_crl_it_builds_in_memory(tmp_path):
    """AuthorityService.write_crl (the benchmark's path) and AuthorityService.crl give the
    same list: same entries, same extensions; only the CRL number moves on."""
    from openjpki.config import Settings
    from openjpki.services.authority_home import initialise_home, open_authorities

    settings = Settings.resolve(home=tmp_path / "home")
    initialise_home(settings, now=NOW - timedelta(days=1))
    service = open_authorities(settings)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    for i, reason in enumerate(["keyCompromise", "superseded", "certificateHold", "unspecified"]):
        record = service.issue("auth", key, now=NOW, last_valid_day=(NOW + timedelta(days=400)).date())
        service.revoke(record.serial, reason, at=NOW + timedelta(minutes=i))
    service.issue("auth", key, now=NOW, last_valid_day=(NOW + timedelta(days=400)).date())  # stays good
    later = NOW + timedelta(hours=1)
    in_memory = x509.load_der_x509_crl(service.crl("auth", now=later).der)
    written = service.write_crl("auth", tmp_path / "crl" / "auth.crl", now=later)
    on_disk = x509.load_der_x509_crl(written.path.read_bytes())
    assert written.entries == len(on_disk) == len(in_memory) == 4
    assert written.sha256 == hashlib.sha256(written.path.read_bytes()).digest()
    assert written.number == in_memory.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    assert {(r.serial_number, r.revocation_date_utc) for r in on_disk} == \
        {(r.serial_number, r.revocation_date_utc) for r in in_memory}
    assert [e.oid for e in on_disk.extensions] == [e.oid for e in in_memory.extensions]
    assert on_disk.is_signature_valid(service.root("auth").public_key())
    assert not list((tmp_path / "crl").glob(".*.tmp"))  # no temporary file left behind
    service.store.dispose()
