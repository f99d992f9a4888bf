"""Exact-match response cache in Redis, scoped by tenant.

The entry key is ``<prefix>cache:`` + SHA-256 of the canonical JSON of ``[owner_ref, model, request]``,
where the request has the fields that cannot change the answer removed (``stream``, ``stream_options``,
``user``, ``metadata``, ``cache``/tollgate options...) and its keys sorted. The owner is part of the
hashed value, so two owners never share an entry, whatever their prompts. TTLs come from the deployment
(``cache_ttl_s``); the data plane decides whether a request may use the cache at all (per-request opt-out).
Redis failures are logged and treated as a miss / a skipped write: the cache never fails a request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Final

import msgspec
import structlog
from redis.asyncio import Redis

_log = structlog.get_logger("tollgate.router.cache")

# Request fields that do not change what the model answers.
IGNORED_FIELDS: Final = frozenset(
    {"stream", "stream_options", "user", "metadata", "cache", "tollgate", "store", "service_tier"}
)
_encoder = msgspec.json.Encoder(order="sorted")


def cache_key(prefix: str, *, owner_ref: str, model: str, request: Mapping[str, Any]) -> str:
    normalized = {k: v for k, v in request.items() if k not in IGNORED_FIELDS}
    digest = hashlib.sha256(_encoder.encode([owner_ref, model, normalized])).hexdigest()
    return f"{prefix}cache:{digest}"


class ResponseCache:
    """app.state.response_cache."""

    def __init__(self, *, redis: Redis, prefix: str, max_body_bytes: int = 4 * 1024 * 1024) -> None:
        self._redis = redis
        self._prefix = prefix
        self._max_body = max_body_bytes

    def key(self, *, owner_ref: str, model: str, request: Mapping[str, Any]) -> str:
        return cache_key(self._prefix, owner_ref=owner_ref, model=model, request=request)

    async def get(self, *, owner_ref: str, model: str, request: Mapping[str, Any]) -> bytes | None:
        try:
            value = await self._redis.get(self.key(owner_ref=owner_ref, model=model, request=request))
        except Exception as exc:
            _log.warning("cache_get_failed", error=type(exc).__name__)
            return None
        return value if isinstance(value, bytes) else None

    async def put(
        self, *, owner_ref: str, model: str, request: Mapping[str, Any], body: bytes, ttl_s: int
    ) -> None:
        if ttl_s <= 0 or len(body) > self._max_body:
            return
        try:
            await self._redis.set(self.key(owner_ref=owner_ref, model=model, request=request), body, ex=ttl_s)
        except Exception as exc:
            _log.warning("cache_put_failed", error=type(exc).__name__)
