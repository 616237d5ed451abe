"""Helpers of the page tests: signing in through the page, holders seeded through the
counter services (when the seeding is not what a test is about), and an httpx client with
a clerk's session for the tests that need no browser."""

from __future__ import annotations

import itertools
import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Iterator

import httpx

from .conftest import T0

PINS = {"card": "1234", "sign": "ABC123", "auth": "5678"}
_names = itertools.count(1)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "the page has no CSRF field"
    return m.group(1)


def sign_in(page, who: tuple[str, str]) -> None:
    """Sign in through the sign-in page (as a clerk types it)."""
    page.goto("/counter")
    page.get_by_label("ログイン名").fill(who[0])
    page.get_by_label("パスワード").fill(who[1])
    page.get_by_role("button", name="ログイン").click()
    page.wait_for_url("**/counter")


@dataclass(frozen=True)
class Holder:
    resident_id: int
    card_id: int
    card_number: str
    virtual_card_id: str
    name: str


def unique_name(base: str = "試験") -> str:
    n = next(_names)
    return f"{base}　{chr(0x4E00 + n)}子"


def seed_holder(counter, *, name: str | None = None, birth: date = date(1980, 5, 15),
                address: str = "埼玉県川口市青木二丁目1番1号", declined=(), now=T0) -> Holder:
    """A resident with a new card issued at the counter (through the services)."""
    from openjpki.services.counter import (
        Completed, PinEntry, ResidentInput, add_resident, issue_new_card,
    )

    name = name or unique_name()
    rid = add_resident(counter, ResidentInput(name=name, address=address, birth_date=birth,
                                              sex="female"), now)["id"]
    sign = None if "sign" in declined else PINS["sign"]
    out = issue_new_card(counter, rid, PinEntry(card=PINS["card"], sign=sign,
                                                auth=PINS["auth"]), now=now,
                         declined=declined)
    assert isinstance(out, Completed), out
    return Holder(rid, out.card_id, out.card_number, out.details["virtual_card_id"], name)


def pin_works(counter, holder: Holder, kind: str, pin: str) -> bool:
    """Does ``pin`` verify on the holder's card (a wrong one uses a try)?"""
    from openjpki.card import JpkiClient, PinBlocked, WrongPin

    vc = counter.cards.open(holder.virtual_card_id)
    try:
        vc.power_on()
        c = JpkiClient(vc)
        c.select_jpki()
        try:
            c.verify_pin(kind, pin)
        except (WrongPin, PinBlocked):
            return False
        return True
    finally:
        vc.close()


@contextmanager
def clerk_client(base_url: str, who: tuple[str, str] | None) -> Iterator[httpx.Client]:
    """An HTTP client signed in as ``who`` (cookies kept); anonymous for None."""
    with httpx.Client(base_url=base_url, follow_redirects=False, timeout=30) as c:
        if who is not None:
            token = csrf_of(c.get("/counter/login").text)
            r = c.post("/counter/login", data={"name": who[0], "password": who[1],
                                               "csrf_token": token, "next": "/counter"})
            assert r.status_code == 303, r.text
        yield c


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
