"""Service providers as records: who may call the platform, by the ``sender`` of a request
(the provider's contract id).

In production only a provider an operator added (``openjpki platform provider add ID``) and
did not disable is served; any other sender gets 401. In the sandbox any sender is admitted,
and made a record (origin ``sandbox``) on its first call, so an integrator's own id works at
once and its registrations stay apart from everyone else's.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Optional

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError

from openjpki.services.audit import record
from openjpki.services.platform.answers import PlatformError
from openjpki.store import Store
from openjpki.store.platform import PlatformProvider

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
ACTOR = "platform"


class ProviderError(ValueError):
    """A provider command that cannot be done (one line)."""


def check_id(name: str) -> str:
    if not isinstance(name, str) or not _ID.match(name):
        raise ProviderError(f"a provider id is 1 to 64 letters, digits and . _ : - (not {name!r})")
    return name


def provider_dict(p: PlatformProvider) -> dict:
    return {"id": p.name, "label": p.label, "enabled": p.enabled, "origin": p.origin,
            "created_at": p.created_at.isoformat(),
            "disabled_at": p.disabled_at.isoformat() if p.disabled_at else None}


def add_provider(store: Store, name: str, now: datetime, *, label: str = "", actor: str = "cli") -> dict:
    check_id(name)
    try:
        with store.transaction() as s:
            p = PlatformProvider(name=name, label=label[:200], enabled=True, origin="cli", created_at=now)
            s.add(p)
            s.flush()
            record(s, "platform.provider.add", now, actor=actor, subject=f"provider:{name}", label=label[:200])
            return provider_dict(p)
    except IntegrityError:
        raise ProviderError(f"provider {name!r} exists already") from None


def set_enabled(store: Store, name: str, enabled: bool, now: datetime, *, actor: str = "cli") -> dict:
    with store.transaction() as s:
        p = s.execute(select(PlatformProvider).where(PlatformProvider.name == name).with_for_update()
                      ).scalar_one_or_none()
        if p is None:
            raise ProviderError(f"no provider {name!r}")
        p.enabled = enabled
        p.disabled_at = None if enabled else now
        record(s, "platform.provider.enable" if enabled else "platform.provider.disable", now, actor=actor,
               subject=f"provider:{name}")
        return provider_dict(p)


def list_providers(store: Store) -> list[dict]:
    with store.sessions() as s:
        return [provider_dict(p) for p in s.execute(select(PlatformProvider).order_by(PlatformProvider.id)).scalars()]


# Built once: every call looks its provider up (statement building costs more than the query).
_BY_NAME = select(PlatformProvider.id, PlatformProvider.enabled).where(PlatformProvider.name == bindparam("name"))


def _find(store: Store, name: str):
    with store.engine.connect() as conn:
        return conn.execute(_BY_NAME, {"name": name}).first()


def admit(store: Store, sender: str, now: datetime, *, sandbox: bool) -> int:
    """The provider's record id for a call from ``sender``; PlatformError(401) when refused."""
    found = _find(store, sender)
    if found is None and sandbox and _ID.match(sender):
        try:
            with store.transaction() as s:
                s.add(PlatformProvider(name=sender, label="", enabled=True, origin="sandbox", created_at=now))
                record(s, "platform.provider.add", now, actor=ACTOR, subject=f"provider:{sender}",
                       label="made on first use in the sandbox")
        except IntegrityError:
            pass  # made at the same moment by a parallel call
        found = _find(store, sender)
    if found is None:
        raise PlatformError(401, "クライアント認証失敗: unknown service provider (sender)", outcome="unknown-provider")
    if not found.enabled:
        raise PlatformError(401, "クライアント認証失敗: the service provider is disabled", outcome="provider-disabled")
    return found.id


__all__ = ["ProviderError", "add_provider", "admit", "check_id", "list_providers", "provider_dict", "set_enabled"]
