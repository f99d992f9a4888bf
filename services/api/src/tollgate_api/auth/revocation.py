"""Revocation broadcast for auth caches: a version counter in Redis.

Anything that narrows access (key revoked or rotated, team paused/suspended, plan changed, operator
disabled) bumps ``{prefix}auth:version`` after its transaction commits. Every replica compares the
counter with the one it saw at most every ``check_interval_s`` (0.5 s) and drops its in-process caches
when it moved, so a revocation is honoured everywhere within ``check_interval_s`` plus one request.
If Redis cannot be read, the caches are dropped (fail safe: every request goes to Postgres).
"""

from __future__ import annotations

import time

import redis.asyncio as aioredis
import structlog

_log = structlog.get_logger("tollgate.auth")


class Revocations:
    def __init__(self, redis: aioredis.Redis, *, prefix: str, check_interval_s: float = 0.5) -> None:
        self._redis = redis
        self._key = f"{prefix}auth:version"
        self._interval = check_interval_s
        self._seen: bytes | str | None = None
        self._checked_at = float("-inf")

    async def bump(self) -> None:
        try:
            await self._redis.incr(self._key)
        except Exception as exc:  # the caches' TTL still bounds staleness
            _log.error("auth_revocation_broadcast_failed", error=type(exc).__name__)

    async def changed(self) -> bool:
        """True when caches must be dropped: the version moved, or it cannot be read."""
        now = time.monotonic()
        if now - self._checked_at < self._interval:
            return False
        self._checked_at = now
        try:
            current = await self._redis.get(self._key)
        except Exception as exc:
            _log.warning("auth_revocation_check_failed", error=type(exc).__name__)
            self._seen = None
            return True
        if current != self._seen:
            self._seen = current
            return True
        return False
