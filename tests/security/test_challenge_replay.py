"""A challenge is used once, on the server, by the session that asked for it: keeping the
portal's pre-login cookie and sending the same card answer again — once more, or 50 times at
the same moment — gives one holder session, never a second (the page says 1回限り)."""

from __future__ import annotations

import pytest

from .seca_kit import (
    CHALLENGE, at_once, card_sign, client, csrf_of, seed_holders, served_home, sign_answer,
)

CLIENTS = 50

pytestmark = pytest.mark.slow


def _portal_login(c, token: str, answer: str) -> int:
    return c.post("/portal/login", data={"csrf_token": token, "method": "paste",
                                         "answer": answer}).status_code


def test_a_replayed_pre_login_cookie_logs_in_once(tmp_path, backend, monkeypatch):
    holders = []
    with served_home(tmp_path, backend, monkeypatch,
                     prepare=lambda s: holders.extend(seed_holders(s))) as srv:
        with client(srv.url) as first:
            token, page = csrf_of(first, "/portal")
            challenge = CHALLENGE.search(page).group(1)
            answer = sign_answer(srv.settings, holders[0], challenge)
            kept = dict(first.cookies)  # the pre-login cookie, as an attacker keeps it

            replays = [client(srv.url) for _ in range(CLIENTS)]
            for c in replays:
                c.cookies.update(kept)
            statuses = at_once(CLIENTS, lambda i: _portal_login(replays[i], token, answer))
            assert sorted(statuses).count(303) == 1, statuses
            assert all(s in (303, 400) for s in statuses), statuses
            for c in replays:
                c.close()

            later = client(srv.url)
            later.cookies.update(kept)
            assert _portal_login(later, token, answer) == 400  # used: replay refused
            later.close()

        # Bound to the session that asked: another session presenting this one's signed
        # challenge does not log in; the asking session then still can.
        with client(srv.url) as asker, client(srv.url) as other:
            _, page = csrf_of(asker, "/portal")
            answer = sign_answer(srv.settings, holders[0], CHALLENGE.search(page).group(1))
            token_b, _ = csrf_of(other, "/portal")
            assert _portal_login(other, token_b, answer) == 401  # its own challenge differs
            token_a, _ = csrf_of(asker, "/portal")
            assert _portal_login(asker, token_a, answer) == 303
            assert asker.get("/portal").status_code == 200


def test_a_relying_party_challenge_is_used_by_one_of_50_parallel_answers(tmp_path,
                                                                          monkeypatch):
    """R1.1 log-in at the relying party: 50 clients send the same signed log-in challenge at
    once; one gets a session, the 49 others a 401 problem (never a 5xx, never a second)."""
    import base64

    holders = []
    with served_home(tmp_path, "sqlite", monkeypatch,
                     prepare=lambda s: holders.extend(seed_holders(s))) as srv:
        b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
        with client(srv.url) as c:
            reg = c.post("/api/rp/challenges", json={"purpose": "register"}).json()
            sig, der = card_sign(srv.settings, holders[0], "sign", reg["challenge"].encode())
            r = c.post("/api/rp/registrations", json={
                "challenge_id": reg["challenge_id"], "signature": b64(sig),
                "certificate": b64(der)})
            assert r.status_code == 201, r.text
            login = c.post("/api/rp/challenges", json={"purpose": "login"}).json()
        sig, der = card_sign(srv.settings, holders[0], "auth", login["challenge"].encode())
        body = {"challenge_id": login["challenge_id"], "signature": b64(sig),
                "certificate": b64(der)}
        clients = [client(srv.url) for _ in range(CLIENTS)]
        statuses = at_once(CLIENTS, lambda i: clients[i].post("/api/rp/sessions",
                                                              json=body).status_code)
        for c in clients:
            c.close()
        assert sorted(statuses) == [201] + [401] * (CLIENTS - 1), statuses
