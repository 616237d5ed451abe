"""Issuance on the card: only the issuing terminal, authenticated with the card's issuing
secret, may generate keys, write certificates, reset PINs or wipe; private keys never leave."""

from __future__ import annotations

import pickle

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from openjpki.card import IssuingError, IssuingTerminal, JpkiClient, KeyKind
from openjpki.card import apdu as A
from openjpki.card import issuer as I

from .cardkit import AUTH_PIN, throwaway_ca

JPKI = bytes.fromhex("00A4040C0AD392F000260100000001")


def _sw(card, apdu: bytes | str) -> int:
    if isinstance(apdu, str):
        apdu = bytes.fromhex(apdu)
    return int.from_bytes(card.transmit(apdu)[-2:], "big")


def _auth(card, secret: bytes) -> None:
    r = card.transmit(A.build(0x80, I.INS_GET_CHALLENGE, 0, 0, le=16))
    assert r[-2:] == b"\x90\x00" and len(r) == 18
    assert _sw(card, A.build(0x80, I.INS_EXTERNAL_AUTH, 0, 0,
                             I.issuing_mac(secret, r[:-2]))) == 0x9000


@pytest.mark.parametrize("ef,apdu", [
    ("0017", "8046000000"), ("0017", "8046010000"), ("000A", "80D6000003300100"),
    ("000A", "80D80000"), ("000A", "800E0000"), ("0018", "802C00800431323334"),
    ("0018", "80E60000"),
])
def test_issuing_commands_refused_without_the_issuer(card, ef, apdu):
    card.transmit(JPKI)
    card.transmit(bytes.fromhex("00A4020C02" + ef))
    assert _sw(card, apdu) == 0x6982
    assert card.status()["keys"] == {"auth": True, "sign": True}
    assert card.status()["certificates"] == {"auth": True, "sign": True}


def test_external_authenticate(card, issued):
    assert _sw(card, "8084000010") == 0x6985  # not in the JPKI AP
    card.transmit(JPKI)
    assert _sw(card, "8084000008") == 0x6700  # a challenge is 16 bytes
    assert _sw(card, A.build(0x80, 0x82, 0, 0, bytes(32))) == 0x6985  # no challenge yet
    challenge = card.transmit(bytes.fromhex("8084000010"))[:-2]
    assert _sw(card, A.build(0x80, 0x82, 0, 0, bytes(32))) == 0x6982  # wrong MAC
    # the challenge was used up by the failed attempt: the right MAC for it is refused too
    assert _sw(card, A.build(0x80, 0x82, 0, 0, I.issuing_mac(issued.secret, challenge))) == 0x6985
    _auth(card, issued.secret)
    card.transmit(bytes.fromhex("00A4020C020017"))
    assert _sw(card, "8046010000") == 0x9000
    card.transmit(JPKI)  # selecting the application again ends the issuing session
    card.transmit(bytes.fromhex("00A4020C020017"))
    assert _sw(card, "8046010000") == 0x6982


def test_wrong_issuing_secret_is_refused(card):
    with pytest.raises(IssuingError, match="refused the issuing secret"):
        IssuingTerminal(card, b"\x00" * 32).generate_key("auth")
    assert card.status()["certificates"]["auth"] is True


def test_generate_key_replaces_the_key_and_drops_its_certificate(card, issued):
    term = IssuingTerminal(card, issued.secret)
    old = x509.load_der_x509_certificate(issued.certs["auth"]).public_key()
    assert term.public_key("auth").public_numbers() == old.public_numbers()
    new = term.generate_key("auth")
    assert isinstance(new, rsa.RSAPublicKey) and new.key_size == 2048
    assert new.public_numbers() != old.public_numbers()
    assert term.public_key("auth").public_numbers() == new.public_numbers()
    client = JpkiClient(card)
    client.select_jpki()
    assert client.read_certificate("auth") is None
    client.select_ef(0x0008)
    assert client.read_binary(0, 3) == (b"\x8f\x00\x00", 0x9000)  # SIGN present, AUTH not
    # the old certificate cannot be written back: it certifies another key
    with pytest.raises(IssuingError) as e:
        term.write_certificate("auth", issued.certs["auth"])
    assert e.value.sw == 0x6A80
    cert = throwaway_ca("auth").issue(new, "renewed", 999)
    term.write_certificate("auth", cert)
    client.select_jpki()
    assert client.read_certificate("auth") == cert


def test_write_certificate_checks(card, issued, store):
    term = IssuingTerminal(card, issued.secret)
    with pytest.raises(IssuingError) as e:
        term.write_certificate("sign", b"\x30\x03\x02\x01\x01")  # DER, but no certificate
    assert e.value.sw == 0x6A80
    with pytest.raises(IssuingError) as e:
        term.write_ca_certificate("sign", b"not DER at all")
    assert e.value.sw == 0x6A80
    with pytest.raises(IssuingError):
        term.write_certificate("sign", b"\x30\x82" + (5000).to_bytes(2, "big") + bytes(5000))
    # on a card without keys, a holder certificate has nothing to certify
    secret = store.create("NOKEYS")
    with store.open("NOKEYS") as blank:
        with pytest.raises(IssuingError) as e:
            IssuingTerminal(blank, secret).write_certificate("auth", issued.certs["auth"])
        assert e.value.sw == 0x6985
        IssuingTerminal(blank, secret).write_ca_certificate("auth", throwaway_ca("auth").der)
        c = JpkiClient(blank)
        c.select_jpki()
        assert c.read_certificate("auth", ca=True) == throwaway_ca("auth").der


def test_write_chunks_must_be_contiguous(card, issued):
    card.transmit(JPKI)
    _auth(card, issued.secret)
    card.transmit(bytes.fromhex("00A4020C02000B"))
    assert _sw(card, "80D6001001AA") == 0x6A86  # no staging started at offset 0
    assert _sw(card, "80D6000002" + "3003") == 0x9000
    assert _sw(card, "80D6000501AA") == 0x6A86  # a gap
    assert _sw(card, "80D6000203AAAA") == 0x6700  # Lc larger than the data
    assert _sw(card, "80D60FFF02AAAA") == 0x6A86


def test_erase_and_wipe(card, issued):
    term = IssuingTerminal(card, issued.secret)
    term.erase_certificate("sign")
    st = card.status()
    assert st["certificates"] == {"auth": True, "sign": False} and st["keys"]["sign"] is True
    term.erase_key("auth")
    st = card.status()
    assert st["keys"]["auth"] is False and st["certificates"]["auth"] is False
    term.wipe()
    st = card.status()
    assert not any(st["keys"].values()) and not any(st["certificates"].values())
    assert not any(st["ca_certificates"].values())
    assert all(st["pins"][k]["blocked"] and not st["pins"][k]["set"] for k in ("auth", "sign"))
    assert st["pins"]["input"]["set"]  # WIPE in the JPKI AP leaves the other applications


def test_reset_pin_unblocks_and_sets_the_full_count(card, issued):
    client = JpkiClient(card)
    client.select_jpki()
    for _ in range(5):
        try:
            client.verify_pin("sign", "WRONG1")
        except Exception:  # noqa: BLE001
            pass
    assert card.status()["pins"]["sign"]["blocked"]
    IssuingTerminal(card, issued.secret).reset_pin("sign", "NEW9PIN")
    assert card.status()["pins"]["sign"] == {"set": True, "tries_left": 5, "max_tries": 5,
                                             "blocked": False}


def test_no_private_key_leaves_the_card(card, issued, store, home):
    priv = card._private_key(KeyKind.AUTH).private_numbers()  # in-card access, for the check
    secrets = [priv.p.to_bytes(128, "big"), priv.q.to_bytes(128, "big"),
               priv.d.to_bytes(256, "big")[:64], issued.secret]
    seen = []

    class Spy:
        def transmit(self, apdu: bytes) -> bytes:
            seen.append(card.transmit(apdu))
            return seen[-1]
    client = JpkiClient(Spy())
    client.select_jpki()
    client.verify_pin(KeyKind.AUTH, AUTH_PIN)
    client.read_certificate("auth")
    client.token_info()
    client.sign("auth", b"data")
    term = IssuingTerminal(client.transport, issued.secret)
    term.public_key("auth")
    term.generate_key("sign")
    texts = [repr(card), repr(card._state), repr(term), repr(store), str(card.status())]
    for s in secrets:
        assert not any(s in r for r in seen), "a response carried private material"
        assert not any(s.hex() in t for t in texts)
    raw = (home / "cards" / "TESTCARD1" / "state.bin").read_bytes()
    assert not any(s in raw for s in secrets), "the state file is not sealed"
    assert AUTH_PIN.encode() not in raw
    with pytest.raises(TypeError):
        pickle.dumps(card)
    with pytest.raises(TypeError):
        pickle.dumps(card._state)
