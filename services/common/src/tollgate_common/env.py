"""Reading settings from the environment (and an optional ``.env`` file), in one place.

Each service declares typed settings by concern (``DatabaseSettings``, ``RedisSettings`` …) in its own
``settings.py`` and builds them with an :class:`Env`; nothing else in the code reads ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

PREFIX: Final = "TOLLGATE_"


class SettingsError(ValueError):
    """A setting is missing or malformed. The message names the variable, never its value."""


class Secret:
    """A string that never shows itself in ``repr``/``str`` (logs, tracebacks, settings dumps)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def read_dotenv(path: Path) -> dict[str, str]:
    """Parse a minimal ``.env`` file: ``KEY=value`` lines, ``#`` comments, optional quotes."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key = key.strip().removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


class Env:
    """Typed access to ``TOLLGATE_*`` variables; the process environment wins over ``.env``."""

    def __init__(self, environ: Mapping[str, str] | None = None, *, dotenv: Path | None = None) -> None:
        base: dict[str, str] = {}
        if environ is None:
            base.update(read_dotenv(dotenv or Path.cwd() / ".env"))
            base.update(os.environ)
        else:
            base.update(environ)
        self._values = base

    def raw(self, name: str) -> str | None:
        value = self._values.get(PREFIX + name)
        return value if value not in (None, "") else None

    def get_str(self, name: str, default: str) -> str:
        value = self.raw(name)
        return default if value is None else value

    def get_optional(self, name: str) -> str | None:
        return self.raw(name)

    def get_secret(self, name: str, default: str = "") -> Secret:
        value = self.raw(name)
        return Secret(default if value is None else value)

    def get_int(
        self, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
    ) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be an integer") from None
        if minimum is not None and number < minimum:
            raise SettingsError(f"{PREFIX}{name} must be >= {minimum}")
        if maximum is not None and number > maximum:
            raise SettingsError(f"{PREFIX}{name} must be <= {maximum}")
        return number

    def get_float(self, name: str, default: float, *, minimum: float = 0.0) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise SettingsError(f"{PREFIX}{name} must be a number") from None
        if number < minimum:
            raise SettingsError(f"{PREFIX}{name} must be >= {minimum}")
        return number

    def get_bool(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{PREFIX}{name} must be true or false")

    def get_choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.get_str(name, default)
        if value not in choices:
            raise SettingsError(f"{PREFIX}{name} must be one of {', '.join(choices)}")
        return value
