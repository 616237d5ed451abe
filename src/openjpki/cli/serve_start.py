"""What ``openjpki serve`` says before it starts listening — where, on which home, in which
mode, and the next command to run (the demo data when a sandbox home has no residents, the
first clerk when there is none) — and the demo seeding ``serve --demo`` and ``openjpki
demo`` share. Not a command module: it registers nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import func, select


def seed_demo(s, now: datetime):
    """Seed the demo residents (services.demo) on home ``s``, initialising a fresh home with
    roots dated back so the demo can hold an expired certificate. Raises the services'
    errors (AuthorityError, SetupError, ConfigError, DemoError, ValueError)."""
    from openjpki.services.authority import NotInitialised
    from openjpki.services.authority_home import initialise_home, open_authorities
    from openjpki.services.counter import CounterContext
    from openjpki.services.demo import ROOTS_BACKDATED_DAYS, seed

    try:
        open_authorities(s).store.dispose()
    except NotInitialised:
        initialise_home(s, now=now - timedelta(days=ROOTS_BACKDATED_DAYS))
    counter = CounterContext.from_settings(s, actor="demo")
    try:
        roots = [counter.authority.root(k).not_valid_before_utc for k in ("sign", "auth")]
        return seed(counter, now, root_not_before=max(roots))
    finally:
        counter.close()


def home_counts(s) -> tuple[int, int]:
    """(residents, clerk accounts) on the home's store."""
    from openjpki.services.authority_home import open_authorities
    from openjpki.store.clerks import Clerk
    from openjpki.store.residents import Resident

    store = open_authorities(s).store
    try:
        with store.sessions() as session:
            residents = session.execute(select(func.count()).select_from(Resident)).scalar_one()
            clerks = session.execute(select(func.count()).select_from(Clerk)).scalar_one()
        return residents, clerks
    finally:
        store.dispose()


def start_lines(s, mode, host: str, port: int, *, residents: int, clerks: int,
                demo_seeded: int | None = None) -> list[str]:
    """The lines ``serve`` prints before uvicorn's own."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/"
    lines = [f"OpenJPKI listening on {url} (pages, /api with /docs, /ocsp, /crl/…)"
             + (f", on all interfaces ({host})" if shown != host else ""),
             f"home: {s.home}",
             f"{mode.name} mode ({mode.source})"]
    if demo_seeded is not None:
        lines.append(f"demo: {demo_seeded} residents with cards in every state are seeded "
                     "(openjpki demo --json lists them and their PINs)")
    elif mode.sandbox and residents == 0:
        lines.append("no residents yet: start with `openjpki serve --demo` to seed demo data "
                     "(residents with cards in every state), or run `openjpki demo`")
    if clerks == 0:
        lines.append("no clerk account yet: `openjpki clerk add admin --role supervisor` "
                     "makes the first one (for /counter)")
    lines.append(f"next: open {url} in a browser"
                 + ("" if clerks else ", then add the first clerk (above)"))
    return lines


def say_all(lines: list[str], say: Callable[[str], None]) -> None:
    for line in lines:
        say(line)
