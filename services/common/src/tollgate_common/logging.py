"""One structlog processor chain for every Tollgate process.

Console rendering on a terminal, JSON lines otherwise. Context (``request_id``, ``team_id``,
``job_id``) lives in contextvars, cleared at the start of every request and actor message.
Secrets never reach a log line: values of keys that look secret are replaced before rendering.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, Final

import structlog

_SECRET_KEYS: Final = frozenset(
    {"authorization", "api_key", "key", "password", "token", "secret", "virtual_key", "provider_key"}
)


def _redact(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for name in list(event):
        if name.lower() in _SECRET_KEYS:
            event[name] = "[redacted]"
    return event


_caching = [True]


def cache_loggers(enabled: bool) -> None:
    """Whether loggers keep the configuration of their first use (the default, fastest). A test
    process that configures logging more than once (one app per test, each at its own level) turns it
    off, so every configuration takes effect for loggers that were already used."""
    _caching[0] = enabled


def configure_logging(*, level: str = "INFO", json: bool | None = None) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    render_json = (not sys.stderr.isatty()) if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if render_json
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer]
        if render_json
        else [*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=_caching[0],
    )
    logging.basicConfig(level=level.upper(), stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    for noisy in ("httpx", "httpcore", "aiohttp.access", "psycopg.pool", "yoyo"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name)
    return logger
