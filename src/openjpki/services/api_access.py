"""Who may call the municipal JSON API (``/api/…``; the relying party's ``/api/rp/…`` has its
own model and is not concerned).

**Decision**:

- In production mode (:mod:`openjpki.services.sandbox_mode`) every request needs a clerk's
  API token (``Authorization: Bearer …``, :mod:`openjpki.services.clerk_tokens`) and the
  clerk's role must allow the action (:func:`openjpki.services.clerks.may`).
- In sandbox mode the API stays open to anyone who can reach it (relying-party developers
  running JPKI on their own machine), unless ``[api] require_token = true`` in the home's
  ``openjpki.toml`` closes it as in production. A token sent to an open sandbox is used all
  the same: its clerk is recorded and their role decides, and a token that does not work is
  refused rather than ignored.
"""

from __future__ import annotations

from dataclasses import dataclass

from openjpki.config import Settings, config_value
from openjpki.services.sandbox_mode import Mode

CONFIG_TABLE = "api"


class ApiConfigError(ValueError):
    """``[api]`` of the home's configuration is not usable (one line)."""


@dataclass(frozen=True)
class ApiAccess:
    """Whether the API needs a token, and why (``source``)."""

    mode: Mode
    require_token: bool
    source: str

    def to_dict(self) -> dict:
        return {"mode": self.mode.name, "require_token": self.require_token,
                "source": self.source}


def configured_require_token(settings: Settings) -> bool | None:
    """``[api] require_token`` of the home's configuration, or None when not set."""
    path = settings.config_file
    value = config_value(path, CONFIG_TABLE, "require_token", ApiConfigError)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise ApiConfigError(f"[{CONFIG_TABLE}] require_token in {path} must be true or "
                             f"false, not {value!r}")
    return value


def api_access(settings: Settings, mode: Mode) -> ApiAccess:
    """The API's access rule for a server in ``mode`` (see the module docstring)."""
    configured = configured_require_token(settings)
    if not mode.sandbox:
        return ApiAccess(mode, True, f"production mode ({mode.source})")
    if configured:
        return ApiAccess(mode, True, f"[{CONFIG_TABLE}] require_token in "
                                     f"{settings.config_file}")
    return ApiAccess(mode, False, f"sandbox mode ({mode.source})")
