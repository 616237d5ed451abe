"""JSON request bodies with a member named twice are refused (400), not read "last wins":
two parts of a system reading the same body must never see two different requests."""

from __future__ import annotations

import json
from typing import Any, Optional

DUPLICATE_KEY = "https://openjpki.github.io/problems/duplicate-key"


class _Duplicate(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen[key] = value
    return seen


def duplicate_key(body: bytes) -> Optional[str]:
    """The first member name that appears twice in one object of ``body``; None when there
    is none or when ``body`` is not JSON at all (the app answers that itself)."""
    try:
        json.loads(body, object_pairs_hook=_pairs)
    except _Duplicate as e:
        return str(e.args[0])
    except (ValueError, RecursionError):
        return None
    return None


def is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or media.endswith(b"+json")
