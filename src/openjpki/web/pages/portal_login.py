"""Checking a holder's log-in to the portal: the card's AUTH signature over the page's
challenge (see :mod:`.portal`), pasted as ``openjpki client sign --json`` prints it or made
by the card in this computer's reader (sandbox)."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

MAX_ANSWER = 20_000


class LoginFailed(Exception):
    def __init__(self, field: str, ja: str, en: str) -> None:
        super().__init__(en)
        self.field, self.message = field, (ja, en)


def parse_answer(answer: str, signature: str, certificate: str) -> tuple[bytes, bytes]:
    """(signature, certificate DER) from the pasted JSON of ``client sign --json``, or from
    the two fields (signature base64; certificate PEM or base64 DER)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    answer = answer.strip()
    if answer:
        try:
            data = json.loads(answer)
        except ValueError:
            raise LoginFailed("answer", "「openjpki client sign --json」が表示したJSONをそのまま"
                              "貼り付けてください。",
                              "Paste the JSON printed by `openjpki client sign --json` "
                              "as it is.") from None
        if not isinstance(data, dict) or not isinstance(data.get("signature"), str) \
                or not isinstance(data.get("certificate"), str):
            raise LoginFailed("answer", "JSONに signature と certificate がありません。",
                              "The JSON lacks signature and certificate.")
        signature, certificate = data["signature"], data["certificate"]
    if not signature.strip():
        raise LoginFailed("answer", "署名を貼り付けてください。", "Paste the signature.")
    try:
        sig = base64.b64decode("".join(signature.split()), validate=True)
    except (binascii.Error, ValueError):
        raise LoginFailed("signature", "署名はbase64で貼り付けてください。",
                          "The signature must be base64.") from None
    text = certificate.strip()
    try:
        if text.startswith("-----BEGIN"):
            cert = x509.load_pem_x509_certificate(text.encode("ascii"))
        else:
            cert = x509.load_der_x509_certificate(
                base64.b64decode("".join(text.split()), validate=True))
    except (ValueError, binascii.Error, UnicodeEncodeError):
        raise LoginFailed("certificate", "証明書を読み取れません（PEM形式で貼り付けてください）。",
                          "The certificate cannot be read (paste it as PEM).") from None
    if not 0 < len(sig) <= 1024:
        raise LoginFailed("signature", "署名の長さが正しくありません。",
                          "The signature has a wrong length.")
    return sig, cert.public_bytes(serialization.Encoding.DER)


def verify_login(ctx, challenge: bytes, sig: bytes, der: bytes, now: datetime) -> dict:
    """The card, resident and serial the answer logs in, or LoginFailed."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from openjpki.services.authority import UnknownCertificate
    from openjpki.services.counter.residents import NotFound
    from openjpki.services.kiosk_card import card_of_certificate
    from openjpki.store import serial_hex

    cert = x509.load_der_x509_certificate(der)
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise LoginFailed("certificate", "この証明書では本人確認できません。",
                          "This certificate cannot log in.")
    ok = False
    for data in (challenge, challenge + b"\n", challenge + b"\r\n"):
        try:
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
            ok = True
            break
        except InvalidSignature:
            continue
    if not ok:
        raise LoginFailed("answer", "署名がこのページのチャレンジと一致しません。新しいチャレンジに"
                          "署名してください。",
                          "The signature is not over this page's challenge; sign the new "
                          "challenge.")
    serial = serial_hex(cert.serial_number)
    try:
        rec = ctx.authority.get(serial)
    except UnknownCertificate:
        rec = None
    if rec is None or rec.der != der or rec.kind != "auth":
        raise LoginFailed("certificate", "この市区町村が発行した利用者証明用電子証明書ではありません。",
                          "This is not a user authentication certificate issued here.")
    if rec.status != "good":
        what = ("失効", "revoked") if rec.status == "revoked" else ("一時保留", "on hold")
        raise LoginFailed("certificate", f"利用者証明用電子証明書は{what[0]}されています。",
                          f"The user authentication certificate is {what[1]}.")
    if not rec.not_before <= now <= rec.not_after:
        raise LoginFailed("certificate", "利用者証明用電子証明書の有効期間外です。",
                          "The user authentication certificate is not within its validity.")
    try:
        with ctx.store.sessions() as s:
            card = card_of_certificate(s, serial)
            return {"card_id": card.id, "resident_id": card.resident_id, "serial": serial}
    except NotFound:
        raise LoginFailed("certificate", "この証明書のカードが見つかりません。",
                          "No card of this municipality holds this certificate.") from None


def sign_with_reader(ctx, card_number: str, pin: str, challenge: bytes) -> tuple[bytes, bytes]:
    """Sandbox: the card in this computer's reader signs the challenge with the AUTH key."""
    from openjpki.card import PinBlocked, WrongPin, sign_file_data
    from openjpki.web.pages.cards import card_in_reader, card_record

    card = card_record(ctx, card_number)
    with card_in_reader(ctx, card) as transport:
        try:
            return sign_file_data(transport, "auth", pin, challenge)
        except WrongPin as e:
            raise LoginFailed("auth_pin", e.message_ja, e.message_en) from None
        except PinBlocked as e:
            raise LoginFailed("auth_pin", e.message_ja, e.message_en) from None
