"""The auth cache answers repeated keys without Postgres, and falls back to Postgres (never to a stale
cache) when the revocation channel in Redis cannot be read."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from tollgate_common.db import make_pool
from tollgate_common.redis import make_redis
from tollgate_router.errors import KeyBlocked
from tollgate_router.keys.schemas import KeyCreate
from tollgate_router.keys.service import KeyAdmin, KeyAuth
from tollgate_router.limits.service import Limiter


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[AsyncConnection[Any]]]:
    p = make_pool(database_url, min_size=1, max_size=2, timeout_s=1)
    await p.open(wait=True)
    yield p
    await p.close()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = make_redis(redis_url)
    yield client
    await client.aclose()


class CountingPool:
    """Counts connections taken from a real pool."""

    def __init__(self, pool: AsyncConnectionPool[AsyncConnection[Any]]) -> None:
        self.pool = pool
        self.taken = 0

    def connection(self, *args: Any, **kwargs: Any) -> Any:
        self.taken += 1
        return self.pool.connection(*args, **kwargs)


async def test_repeated_keys_are_served_from_the_cache(
    pool: AsyncConnectionPool[AsyncConnection[Any]], redis: Redis, redis_prefix: str
) -> None:
    admin = KeyAdmin(
        pool=pool, redis=redis, prefix=redis_prefix, limiter=Limiter(redis=redis, prefix=redis_prefix)
    )
    raw = (await admin.create(KeyCreate(owner_ref="t"))).key
    counting = CountingPool(pool)
    auth = KeyAuth(pool=counting, redis=redis, prefix=redis_prefix)  # type: ignore[arg-type]
    for _ in range(50):
        await auth.authenticate(raw)
    assert counting.taken == 1


async def test_an_unreadable_revocation_channel_means_asking_postgres(
    pool: AsyncConnectionPool[AsyncConnection[Any]], redis: Redis, redis_prefix: str
) -> None:
    admin = KeyAdmin(
        pool=pool, redis=redis, prefix=redis_prefix, limiter=Limiter(redis=redis, prefix=redis_prefix)
    )
    created = await admin.create(KeyCreate(owner_ref="t"))
    down = make_redis("redis://127.0.0.1:1/0")
    counting = CountingPool(pool)
    auth = KeyAuth(pool=counting, redis=down, prefix=redis_prefix)  # type: ignore[arg-type]
    await auth.authenticate(created.key)
    await auth.authenticate(created.key)
    assert counting.taken == 2
    await admin.set_blocked(uuid.UUID(str(created.id)), blocked=True)
    with pytest.raises(KeyBlocked):
        await auth.authenticate(created.key)
    await down.aclose()
