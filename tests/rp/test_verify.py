"""The relying-party library (openjpki.pki.verify): verdicts for card signatures, path
building by key across root generations with one DN, CRL scope and freshness."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openjpki.pki import Kind
from openjpki.pki.path import TrustAnchor
from openjpki.pki.verify import Verifier
from openjpki.pki.verify_crl import CrlSource

from .conftest import AT, FACTS, NOW, R, sign

DATA = "確定申告書 令和6年分\n".encode() * 20


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def case(issue, make_crl, keys):
    good, revoked, held = issue(), issue(key="card2"), issue()
    auth = issue("auth")
    crl = make_crl("sign2", [(revoked, R.affiliation_changed, NOW - timedelta(hours=2)),
                             (held, R.certificate_hold, NOW - timedelta(hours=1))], filler=200)
    auth_crl = make_crl("auth")
    return dict(good=good, revoked=revoked, held=held, auth=auth, crls=[crl, auth_crl])


@pytest.fixture(scope="module")
def verifier(roots, case):
    return Verifier([roots["sign1"], roots["sign2"], roots["auth"]], revocation=[CrlSource(case["crls"])])


def test_r1_2_good_sign_signature_is_valid_with_the_four_facts(verifier, case, keys):
    result = verifier.verify(DATA, sign(keys["card"], DATA), der(case["good"]), at=AT, purpose="sign")
    assert (result.valid, result.status) == (True, "good"), result.reason
    assert result.facts == FACTS
    assert result.to_dict() == {"valid": True, "status": "good", "facts": {
        "name": FACTS.name, "address": FACTS.address, "birth_date": "1988-02-29", "sex": 2}}
    # PEM and the certificate object give the same verdict
    pem = case["good"].public_bytes(serialization.Encoding.PEM)
    assert verifier.verify(DATA, sign(keys["card"], DATA), pem, at=AT).status == "good"
    assert verifier.verify(DATA, sign(keys["card"], DATA), case["good"], at=AT).status == "good"


@pytest.mark.parametrize("which, key, status, rule", [
    ("revoked", "card2", "revoked", "R4.1"),
    ("held", "card", "hold", "R4.3"),
])
def test_r4_revoked_and_held_certificates(verifier, case, keys, which, key, status, rule):
    result = verifier.verify(DATA, sign(keys[key], DATA), der(case[which]), at=AT)
    assert (result.valid, result.status) == (False, status)
    assert rule in result.reason and result.rule == rule and result.facts is None
    assert result.message_ja.startswith("電子証明書は")
    assert result.to_dict()["facts"] is None


def test_r4_revocation_dated_after_the_moment_checked_did_not_apply_then(verifier, case, keys):
    earlier = NOW - timedelta(hours=3)  # before the revocation, CRL made later
    result = verifier.verify(DATA, sign(keys["card2"], DATA), der(case["revoked"]), at=earlier)
    assert result.status == "good", result.reason


@pytest.mark.parametrize("at, status, words", [
    (datetime(2029, 2, 28, 14, 59, 59, tzinfo=timezone.utc), "good", "valid"),  # 23:59:59 JST last day
    (datetime(2029, 2, 28, 15, 0, 0, tzinfo=timezone.utc), "expired", "expired"),
    (NOW - timedelta(days=31), "expired", "not yet valid"),
])
def test_r2_1_validity_at_the_injected_moment(roots, case, keys, make_crl, at, status, words):
    crl = make_crl("sign2", this_update=at - timedelta(hours=1))
    v = Verifier([roots["sign2"]], revocation=[CrlSource([crl])])
    result = v.verify(DATA, sign(keys["card"], DATA), der(case["good"]), at=at)
    assert result.status == status and words in result.reason


def test_tampered_file_is_bad_signature(verifier, case, keys):
    signature = sign(keys["card"], DATA)
    result = verifier.verify(DATA + b" ", signature, der(case["good"]), at=AT)
    assert result.status == "bad-signature" and not result.valid
    assert verifier.verify(DATA, signature[:-1] + bytes([signature[-1] ^ 1]), der(case["good"]), at=AT
                           ).status == "bad-signature"
    # a signature by another card key
    assert verifier.verify(DATA, sign(keys["card2"], DATA), der(case["good"]), at=AT).status == "bad-signature"


def test_generations_share_the_dn_and_the_path_is_built_by_key(roots, issue, make_crl, keys):
    assert roots["sign1"].subject == roots["sign2"].subject == roots["forger"].subject
    cert1, cert2 = issue("sign1"), issue("sign2")
    crls = [make_crl("sign1"), make_crl("sign2")]
    both = Verifier([roots["sign1"], roots["sign2"]], revocation=[CrlSource(crls)])
    for cert, gen in ((cert1, "sign1"), (cert2, "sign2")):
        result = both.verify(DATA, sign(keys["card"], DATA), der(cert), at=AT)
        assert result.status == "good", result.reason
        assert result.root == TrustAnchor.of(roots[gen]).label
    only_gen1 = Verifier([roots["sign1"]], revocation=[CrlSource(crls)])
    result = only_gen1.verify(DATA, sign(keys["card"], DATA), der(cert2), at=AT)
    assert result.status == "untrusted" and "issuer name alone" in result.reason


@pytest.mark.parametrize("forgery", ["unrelated root, same DN", "genuine root named, other key"])
def test_forged_certificate_with_the_same_issuer_dn_is_untrusted(roots, issue, make_crl, keys, forgery):
    if forgery == "unrelated root, same DN":
        forged = issue("forger")
    else:  # names the real root (its DN and its key identifier) but is signed by the forger
        forged = issue("sign2", signer="forger")
    assert forged.issuer == roots["sign2"].subject
    v = Verifier([roots["sign1"], roots["sign2"]], revocation=[CrlSource([make_crl("sign2")])])
    result = v.verify(DATA, sign(keys["card"], DATA), der(forged), at=AT)
    assert result.status == "untrusted" and result.facts is None


def test_a_crl_of_another_generation_does_not_vouch(roots, issue, make_crl, keys):
    cert2 = issue("sign2")
    v = Verifier([roots["sign1"], roots["sign2"]], revocation=[CrlSource([make_crl("sign1"), make_crl("forger")])])
    result = v.verify(DATA, sign(keys["card"], DATA), der(cert2), at=AT)
    assert result.status == "untrusted" and "revocation status unknown" in result.reason


@pytest.mark.parametrize("crl_kw, words", [
    (dict(partition=("大阪府", "大阪市")), "no CRL covers"),
    (dict(this_update=NOW - timedelta(days=3)), "stale"),
])
def test_crl_of_another_partition_or_stale_leaves_revocation_unknown(roots, case, keys, make_crl, crl_kw, words):
    v = Verifier([roots["sign2"]], revocation=[CrlSource([make_crl("sign2", **crl_kw)])])
    result = v.verify(DATA, sign(keys["card"], DATA), der(case["good"]), at=AT)
    assert result.status == "untrusted" and words in result.reason


def test_full_crl_covers_every_partition(roots, case, keys, make_crl):
    crl = make_crl("sign2", [(case["revoked"], R.affiliation_changed, NOW)], partition=None)
    v = Verifier([roots["sign2"]], revocation=[CrlSource([crl])])
    assert v.verify(DATA, sign(keys["card"], DATA), der(case["good"]), at=AT).status == "good"
    assert v.verify(DATA, sign(keys["card2"], DATA), der(case["revoked"]), at=AT).status == "revoked"


def test_newest_crl_wins(roots, case, keys, make_crl):
    old = make_crl("sign2", number=1)
    new = make_crl("sign2", [(case["good"], R.key_compromise, NOW + timedelta(minutes=5))], number=2,
                   this_update=NOW + timedelta(minutes=10))
    v = Verifier([roots["sign2"]], revocation=[CrlSource([new, old])])
    assert v.verify(DATA, sign(keys["card"], DATA), der(case["good"]), at=AT).status == "revoked"


@pytest.mark.parametrize("purpose, cert, key, ok", [
    ("sign", "good", "card", True),
    ("auth", "auth", "card", True),
    ("sign", "auth", "card", False),  # R1.1: documents are signed with SIGN
    ("auth", "good", "card", False),  # R1.1: log-in uses AUTH
    (None, "auth", "card", True),
])
def test_r1_1_purpose_sign_for_documents_auth_for_login(verifier, case, keys, purpose, cert, key, ok):
    result = verifier.verify(DATA, sign(keys[key], DATA), der(case[cert]), at=AT, purpose=purpose)
    assert result.valid is ok, result.reason
    if not ok:
        assert result.status == "untrusted" and "R1.1" in result.reason
    if ok and cert == "auth":
        assert result.facts is None and result.to_dict()["facts"] is None


def test_production_policy_under_a_test_root_or_environment_is_refused(roots, case, keys, make_crl):
    v = Verifier([roots["sign2"]], revocation=[CrlSource([make_crl("sign2")])], environment="production")
    result = v.verify(DATA, sign(keys["card"], DATA), der(case["good"]), at=AT)
    assert result.status == "untrusted" and "environment" in result.reason


def test_without_revocation_data_the_verdict_is_untrusted_unless_not_required(roots, case, keys):
    strict = Verifier([roots["sign2"]])
    assert strict.verify(DATA, sign(keys["card"], DATA), der(case["good"]), at=AT).status == "untrusted"
    lax = Verifier([roots["sign2"]], require_revocation=False)
    assert lax.verify(DATA, sign(keys["card"], DATA), der(case["good"]), at=AT).status == "good"


def test_bad_inputs_give_verdicts_not_exceptions(verifier, keys, case):
    assert verifier.verify(DATA, b"\x00" * 256, b"not a certificate", at=AT).status == "untrusted"
    assert verifier.verify(DATA, b"short", der(case["good"]), at=AT).status == "bad-signature"
    assert verifier.verify(DATA, sign(keys["card"], DATA), None, at=AT).status == "untrusted"
    with pytest.raises(ValueError):
        verifier.verify(DATA, b"", der(case["good"]), at=datetime(2025, 4, 1))  # naive: time is injected, aware


def test_real_2023_roots_are_anchors_of_the_production_environment():
    from pathlib import Path
    folder = Path(__file__).parents[1] / "pki" / "data"  # copies of the published roots
    anchors = [TrustAnchor.of(p.read_bytes()) for p in sorted(folder.glob("*_ca_2023.pem"))]
    assert {(a.kind, a.environment) for a in anchors} == {(Kind.AUTH, "production"), (Kind.SIGN, "production")}


# --- properties ------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(revoked_after=st.integers(min_value=-600, max_value=600), checked_after=st.integers(min_value=-600, max_value=600))
def test_r4_revoked_exactly_from_its_revocation_date(roots, case, keys, make_crl, revoked_after, checked_after):
    """For any revocation moment and any checked moment (minutes around NOW), the verdict is
    revoked iff the revocation is at or before the moment checked."""
    revoked_at = NOW + timedelta(minutes=revoked_after)
    at = NOW + timedelta(minutes=checked_after)
    crl = _crl_cache(make_crl, case["good"], revoked_at)
    v = Verifier([roots["sign2"]], revocation=[CrlSource([crl])])
    result = v.verify(DATA, _sig(keys), der(case["good"]), at=at)
    assert result.status == ("revoked" if revoked_at <= at else "good"), result.reason


_CRLS: dict = {}


def _crl_cache(make_crl, cert, revoked_at):
    if revoked_at not in _CRLS:
        _CRLS[revoked_at] = make_crl("sign2", [(cert, R.key_compromise, revoked_at)],
                                     this_update=NOW + timedelta(hours=11), next_update=NOW + timedelta(hours=36))
    return _CRLS[revoked_at]


_SIGS: dict = {}


def _sig(keys):
    return _SIGS.setdefault("card", sign(keys["card"], DATA))
