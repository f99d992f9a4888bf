"""The Redis client every service owns in its lifespan, with a key prefix for isolation.

All keys a service writes start with its prefix (``tollgate:`` by default; tests give each test its
own), so tenants of one Redis — several test runs, staging and prod — never see each other's keys.
"""

from __future__ import annotations

import redis.asyncio as aioredis


def make_redis(url: str, *, max_connections: int = 64) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url,
        max_connections=max_connections,
        socket_connect_timeout=2.0,
        socket_timeout=5.0,
        health_check_interval=30,
        decode_responses=False,
    )


async def ping(client: aioredis.Redis) -> None:
    await client.ping()
