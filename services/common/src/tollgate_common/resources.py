"""The long-lived resources every service owns: its Postgres pool and Redis client.

Created once in ``create_app`` (unopened), started and stopped by the app's lifespan; the health
checks and the migration-at-start rule live here so both services behave the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_common import db as dbmod
from tollgate_common.httpapp import Check
from tollgate_common.migrate import apply_migrations, migrations_dir
from tollgate_common.redis import make_redis
from tollgate_common.redis import ping as redis_ping
from tollgate_common.settings import DatabaseSettings, RedisSettings


@dataclass(slots=True)
class CoreResources:
    schema: str
    database: DatabaseSettings
    pool: AsyncConnectionPool[AsyncConnection[Any]]
    redis: aioredis.Redis

    @classmethod
    def build(cls, *, schema: str, database: DatabaseSettings, redis: RedisSettings) -> CoreResources:
        pool = dbmod.make_pool(
            database.url,
            min_size=database.pool_min,
            max_size=database.pool_max,
            timeout_s=database.pool_timeout_s,
            name=schema,
        )
        return cls(schema, database, pool, make_redis(redis.url, max_connections=redis.max_connections))

    async def start(self) -> None:
        """Apply the schema's migrations (unless disabled) and open the pool without waiting for it."""
        if self.database.migrate_on_start:
            apply_migrations(self.database.url, schema=self.schema, directory=migrations_dir(self.schema))
        await self.pool.open(wait=False)

    async def stop(self) -> None:
        try:
            await self.pool.close()
        finally:
            await self.redis.aclose()

    def checks(self) -> list[tuple[str, Check]]:
        pool, redis = self.pool, self.redis
        return [("postgres", lambda: dbmod.ping(pool)), ("redis", lambda: redis_ping(redis))]
