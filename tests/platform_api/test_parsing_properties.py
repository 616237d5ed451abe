"""Properties of reading a request: any JSON body, any certificate text, any signature text is
either read or refused with the contract's 400 — never another exception — and the nonce
kept is exactly the bytes sent."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from openjpki.services.platform import Call, PlatformError, read_certificate
from openjpki.rules import JST as JST_ZONE
from openjpki.services.platform.answers import timestamp
from openjpki.services.platform.requests import decode_body, parse_request

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=5), max_leaves=12)
NAMES = st.sampled_from(["requestInfo", "transactionId", "recipient", "sender", "ts", "nonceData", "nonceSign",
                         "encryptedCertificateForUser", "applicantData", "sign", "encryptedCertificateForSign"])


def _base() -> dict:
    return {"requestInfo": {"transactionId": "t", "recipient": "JPKI", "sender": "s", "ts": "x"},
            "encryptedCertificateForUser": "-----BEGIN CERTIFICATE-----", "nonceData": "n", "nonceSign": "QUJD"}


@settings(max_examples=100, deadline=None)
@given(body=JSON, call=st.sampled_from(list(Call)))
def test_any_json_is_read_or_refused_with_400(body, call):
    try:
        parse_request(call, decode_body(json.dumps(body).encode()))
    except PlatformError as e:
        assert e.status == 400


@settings(max_examples=100, deadline=None)
@given(name=NAMES, value=JSON)
def test_any_value_in_any_field_is_read_or_refused_with_400(name, value):
    body = _base()
    if name in body["requestInfo"]:
        body["requestInfo"][name] = value
    else:
        body[name] = value
    try:
        parse_request(Call.LOGIN, body)
    except PlatformError as e:
        assert e.status == 400


@settings(max_examples=100, deadline=None)
@given(nonce=st.text(min_size=1, max_size=300).filter(lambda t: len(t.encode("utf-8", "ignore")) == len(
    t.encode("utf-8", "surrogatepass"))))
def test_the_nonce_kept_is_exactly_the_utf8_of_what_was_sent(nonce):
    body = _base() | {"nonceData": nonce}
    assert parse_request(Call.LOGIN, body).nonce == nonce.encode("utf-8")


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=400) | st.from_regex(r"[A-Za-z0-9_-]{1,40}(\.[A-Za-z0-9_-]{0,40}){4}", fullmatch=True))
def test_any_certificate_text_is_read_or_refused_with_400(text):
    try:
        read_certificate(text, None)
    except PlatformError as e:
        assert e.status in (400, 503)  # 503: a JWE while no key set is given


@settings(max_examples=100, deadline=None)
@given(moment=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31),
                           timezones=st.sampled_from([timezone.utc, JST_ZONE])))
def test_ts_is_japan_time_to_the_millisecond_for_any_moment(moment):
    text = timestamp(moment)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}", text)
    back = datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=JST_ZONE)
    assert abs((back - moment).total_seconds()) < 0.001
