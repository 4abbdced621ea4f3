"""Small helpers shared by the configuration classes."""

from __future__ import annotations

from typing import Any


def string_list(value: Any) -> list[str] | None:
    """None stays None; one string becomes a list of one; any iterable a list of str."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]
