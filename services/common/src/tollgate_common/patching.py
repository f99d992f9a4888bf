"""PATCH semantics shared by every admin API: a field left out of the body keeps its stored value."""

from __future__ import annotations

from typing import TypeVar

import msgspec

T = TypeVar("T")


def patched(new: T | msgspec.UnsetType, current: T) -> T:
    """``new`` when the client sent the field (even ``null``), else ``current``."""
    return current if isinstance(new, msgspec.UnsetType) else new
