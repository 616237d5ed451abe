"""CRLs of later root generations over HTTP: /crl/gN/… for generation N ≥ 2, learnt by a
running app from the store (the rollover made by another process), signed by that
generation's key; unknown generations are 404 problems."""

from datetime import timedelta

import pytest
from cryptography import x509

from openjpki.services.authority_testing import issue_sample

PROBLEM = "application/problem+json"


def crl_of(response):
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(response.content)


def test_a_later_generation_publishes_at_its_own_path(client, authority, clock):
    old = issue_sample(authority, "sign", now=clock.now - timedelta(hours=2))
    assert client.get("/crl/g2/sign.crl").status_code == 404
    authority.rollover("sign", now=clock.now - timedelta(hours=1))
    new = issue_sample(authority, "sign", now=clock.now - timedelta(minutes=30))
    authority.revoke(new.serial, "keyCompromise", at=clock.now - timedelta(minutes=10))
    authority.revoke(old.serial, "affiliationChanged", at=clock.now - timedelta(minutes=10))
    roots = {a.generation: a.root for a in authority.generations("sign")}

    second = crl_of(client.get("/crl/g2/sign.crl"))
    assert second.is_signature_valid(roots[2].public_key())
    assert [format(e.serial_number, "x") for e in second] == [new.serial]
    part = crl_of(client.get(f"/crl/g2/sign/{new.partition}.crl"))
    assert part.is_signature_valid(roots[2].public_key()) and len(part) == 1

    first = crl_of(client.get("/crl/sign.crl"))  # generation 1 stays where its certificates point
    assert first.is_signature_valid(roots[1].public_key())
    assert [format(e.serial_number, "x") for e in first] == [old.serial]
    assert crl_of(client.get("/crl/auth.crl")).is_signature_valid(authority.root("auth").public_key())


@pytest.mark.parametrize("path", ["/crl/g2/auth.crl", "/crl/g1/sign.crl", "/crl/g0/sign.crl",
                                  "/crl/g9/sign.crl", "/crl/g2/nope.crl",
                                  "/crl/g2/sign/0123456789abcdef.crl", "/crl/g2/sign/XYZ.crl"])
def test_unknown_generations_kinds_and_partitions_are_404_problems(client, authority, clock, path):
    authority.rollover("sign", now=clock.now - timedelta(hours=1))
    r = client.get(path)
    assert r.status_code == 404
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.json()["status"] == 404


def test_a_non_numeric_generation_is_not_a_route(client):
    r = client.get("/crl/gx/sign.crl")
    assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM)
