"""Root generations (PROFILES.md: several roots of one DN in use at once, told apart by key):
``rollover`` makes a new one that issues from then on; every generation keeps its own CRLs
(signed by its own key, at its own URL) and OCSP answers for the certificates it issued,
including in a responder that was running before the rollover."""

import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.x509 import ocsp

from openjpki.pki import ProfileOptions
from openjpki.services.authority import (
    AuthorityService, UnknownGeneration, crl_path, initialise,
)
from openjpki.services.authority_ocsp import OcspResponder
from openjpki.services.authority_testing import PASSPHRASE, issue_sample, seed_ca_keys
from openjpki.store.testing import open_test_store

T0 = datetime(2026, 4, 1, tzinfo=timezone.utc)
BASE = "http://127.0.0.1:8000"


@pytest.fixture
def setup(backend, tmp_path):
    keys = tmp_path / "keys"
    seed_ca_keys(keys)
    with open_test_store(backend, tmp_path) as store:
        initialise(store, keys, PASSPHRASE, now=T0)
        yield store, keys


def service_of(setup, **kw):
    store, keys = setup
    return AuthorityService(store, keys_dir=keys, passphrase=PASSPHRASE,
                            options=ProfileOptions(crl_url_base=BASE), **kw)


def signed_by(cert_or_crl, root) -> bool:
    try:
        root.public_key().verify(cert_or_crl.signature, cert_or_crl.tbs_certificate_bytes
                                 if isinstance(cert_or_crl, x509.Certificate) else cert_or_crl.tbs_certlist_bytes,
                                 padding.PKCS1v15(), hashes.SHA256())
        return True
    except Exception:  # noqa: BLE001 — InvalidSignature
        return False


def crl_urls(cert: x509.Certificate) -> list[str]:
    dps = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return [n.value for dp in dps for n in (dp.full_name or []) if isinstance(n, x509.UniformResourceIdentifier)]


@pytest.mark.parametrize("kind", ["sign", "auth"])
def test_rollover_makes_a_new_root_of_the_same_name_that_issues_from_then_on(setup, kind):
    service = service_of(setup)
    first = service.current(kind)
    old = issue_sample(service, kind, now=T0 + timedelta(days=1))
    made = service.rollover(kind, now=T0 + timedelta(days=2))
    assert made.generation == 2 and service.current(kind) == made
    assert [a.generation for a in service.generations(kind)] == [1, 2]
    assert made.root.subject == first.root.subject  # one DN ...
    assert made.root.public_key().public_numbers() != first.root.public_key().public_numbers()  # ... new key
    new = issue_sample(service, kind, now=T0 + timedelta(days=3))
    assert signed_by(new.certificate, made.root) and not signed_by(new.certificate, first.root)
    assert signed_by(old.certificate, first.root)
    # the other authority is untouched
    other = "auth" if kind == "sign" else "sign"
    assert [a.generation for a in service.generations(other)] == [1]
    assert service.rollover(kind, now=T0 + timedelta(days=4)).generation == 3


def test_each_generation_names_and_signs_its_own_crls(setup):
    service = service_of(setup)
    old = issue_sample(service, "sign", now=T0 + timedelta(days=1))
    old_auth = issue_sample(service, "auth", now=T0 + timedelta(days=1))
    service.rollover("sign", now=T0 + timedelta(days=2))
    new = issue_sample(service, "sign", now=T0 + timedelta(days=3))
    assert crl_urls(old.certificate) == [f"{BASE}/crl/sign/{old.partition}.crl"]
    assert crl_urls(new.certificate) == [f"{BASE}/crl/g2/sign/{new.partition}.crl"]
    assert crl_urls(old_auth.certificate) == [f"{BASE}/crl/auth.crl"]
    service.revoke(old.serial, "affiliationChanged", at=T0 + timedelta(days=4))
    service.revoke(new.serial, "keyCompromise", at=T0 + timedelta(days=4))
    now = T0 + timedelta(days=5)
    roots = {a.generation: a.root for a in service.generations("sign")}
    for generation, cert in ((1, old), (2, new)):
        for partition in (None, cert.partition):
            crl = x509.load_der_x509_crl(service.crl("sign", partition, now=now, generation=generation).der)
            assert crl.is_signature_valid(roots[generation].public_key())
            assert not crl.is_signature_valid(roots[3 - generation].public_key())
            assert [format(e.serial_number, "x") for e in crl] == [cert.serial]
    # the default is the issuing generation
    assert service.crl("sign", now=now).generation == 2
    with pytest.raises(UnknownGeneration):
        service.crl("sign", now=now, generation=9)
    with pytest.raises(UnknownGeneration):
        service.partitions(9)
    assert crl_path(1) == "/crl" and crl_path(2) == "/crl/g2"


def ocsp_status(responder, record, root, now):
    req = ocsp.OCSPRequestBuilder().add_certificate(record.certificate, root, hashes.SHA1()).build()
    resp = ocsp.load_der_ocsp_response(responder.respond(req.public_bytes(serialization.Encoding.DER), now).der)
    if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        return resp.response_status.name
    # signed by the generation that issued the certificate (the root's own key)
    root.public_key().verify(resp.signature, resp.tbs_response_bytes, padding.PKCS1v15(),
                             resp.signature_hash_algorithm)
    return resp.certificate_status.name


def test_a_running_responder_learns_a_generation_made_by_another_process(setup):
    server_side = service_of(setup)
    responder = OcspResponder(server_side, validity=timedelta(hours=1))
    responder.sync()
    old = issue_sample(server_side, "auth", now=T0 + timedelta(days=1))
    now = T0 + timedelta(days=1, hours=1)
    assert ocsp_status(responder, old, server_side.current("auth").root, now) == "GOOD"
    cli_side = service_of(setup)  # another process: its own service on the same store
    made = cli_side.rollover("auth", now=T0 + timedelta(days=2))
    new = issue_sample(cli_side, "auth", now=T0 + timedelta(days=2))
    cli_side.revoke(new.serial, "keyCompromise", at=T0 + timedelta(days=2, hours=1))
    responder.sync()
    later = T0 + timedelta(days=2, hours=2)
    assert ocsp_status(responder, new, made.root, later) == "REVOKED"
    assert ocsp_status(responder, old, server_side.generation("auth", 1).root, later) == "GOOD"
    # and the server's own service now issues from the new generation
    assert server_side.current("auth").generation == 2


@pytest.mark.interop
def test_openssl_checks_each_generations_certificate_against_its_own_root_and_crl(setup, tmp_path):
    service = service_of(setup)
    old = issue_sample(service, "sign", now=T0 + timedelta(days=1))
    service.rollover("sign", now=T0 + timedelta(days=2))
    new = issue_sample(service, "sign", now=T0 + timedelta(days=3))
    service.revoke(new.serial, "keyCompromise", at=T0 + timedelta(days=4))
    now = T0 + timedelta(days=5)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)  # noqa: E731
    results = {}
    for generation, rec in ((1, old), (2, new)):
        root = service.generation("sign", generation).root
        crl = x509.load_der_x509_crl(service.crl("sign", now=now, generation=generation).der)
        (tmp_path / f"root{generation}.pem").write_bytes(pem(root))
        (tmp_path / f"crl{generation}.pem").write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        (tmp_path / f"ee{generation}.pem").write_bytes(pem(rec.certificate))
        p = subprocess.run(["openssl", "verify", "-crl_check", "-attime", str(int(now.timestamp())),
                            "-CAfile", str(tmp_path / f"root{generation}.pem"),
                            "-CRLfile", str(tmp_path / f"crl{generation}.pem"),
                            str(tmp_path / f"ee{generation}.pem")], capture_output=True, text=True)
        results[generation] = (p.returncode, p.stdout + p.stderr)
    assert results[1][0] == 0 and "OK" in results[1][1]
    assert results[2][0] != 0 and "revoked" in results[2][1]
