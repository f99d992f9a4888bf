"""The catalog snapshot: reloads only when the version moves, checks at most every interval, and keeps
serving the last good snapshot when Redis or Postgres fail."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from tollgate_common.db import make_pool
from tollgate_common.redis import make_redis
from tollgate_router.catalog.service import Catalog, version_key
from tollgate_router.errors import ModelNotFound


def seed(database_url: str, model: str = "chat") -> uuid.UUID:
    provider, deployment = uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO router.providers (id, name, kind) VALUES (%s, %s, 'mock')",
            (provider, f"p-{provider}"),
        )
        conn.execute(
            "INSERT INTO router.deployments (id, model_name, provider_id, upstream_model, settings)"
            " VALUES (%s, %s, %s, 'm', '{\"x\": 1}')",
            (deployment, model, provider),
        )
    return deployment


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


async def test_reloads_only_when_the_version_moves_and_at_most_every_interval(
    pool: AsyncConnectionPool[AsyncConnection[Any]], redis: Redis, redis_prefix: str, database_url: str
) -> None:
    now = [100.0]
    catalog = Catalog(pool=pool, redis=redis, prefix=redis_prefix, keyring=None, clock=lambda: now[0])
    with pytest.raises(ModelNotFound):
        await catalog.deployments("chat")
    seed(database_url)
    now[0] += 1.0
    with pytest.raises(ModelNotFound):  # the version did not move: no reload
        await catalog.deployments("chat")
    await redis.incr(version_key(redis_prefix))
    now[0] += 0.1
    with pytest.raises(ModelNotFound):  # within the check interval: not even looked at
        await catalog.deployments("chat")
    now[0] += 0.5
    [deployment] = await catalog.deployments("chat")
    assert deployment.settings == {"x": 1}
    assert deployment.api_key is None
    assert await catalog.fallbacks("chat") == ()
    seed(database_url, model="quiet")  # a change whose version bump was lost
    now[0] += 30
    with pytest.raises(ModelNotFound):
        await catalog.deployments("quiet")
    now[0] += 31  # past max_age_s: reloaded anyway
    assert len(await catalog.deployments("quiet")) == 1


async def test_keeps_the_last_snapshot_when_redis_and_postgres_fail(
    pool: AsyncConnectionPool[AsyncConnection[Any]], redis_prefix: str, redis_url: str, database_url: str
) -> None:
    seed(database_url)
    now = [0.0]
    client = make_redis(redis_url)
    catalog = Catalog(pool=pool, redis=client, prefix=redis_prefix, keyring=None, clock=lambda: now[0])
    assert len(await catalog.deployments("chat")) == 1
    await client.incr(version_key(redis_prefix))
    await pool.close()  # Postgres gone
    now[0] += 1
    assert len(await catalog.deployments("chat")) == 1
    await client.aclose()
    catalog._redis = make_redis("redis://127.0.0.1:1/0")  # Redis gone too
    now[0] += 1
    assert await catalog.model_names() == ("chat",)
    await catalog._redis.aclose()
