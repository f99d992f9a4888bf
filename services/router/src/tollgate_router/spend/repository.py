"""The spend domain's only door to Postgres."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from tollgate_common.db import connection, interpret_error
from tollgate_router.db import spend_log as q

Pool = AsyncConnectionPool[AsyncConnection[Any]]
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


async def insert_batch(pool: Pool, rows: Sequence[Any], *, timeout_s: float | None = None) -> int:
    """One INSERT for the whole batch (rows are JSON-encodable records); duplicates are ignored."""
    try:
        async with pool.connection(timeout=timeout_s) as conn:
            return await q.spend_log_insert_batch(conn, rows=list(rows))
    except (psycopg.Error, PoolTimeout) as exc:
        raise interpret_error(exc) from exc


async def total_since(pool: Pool, key_id: uuid.UUID, since: datetime.datetime | None) -> int:
    async with connection(pool) as conn:
        row = await q.spend_total_for_key_since(conn, key_id=key_id, since=since or EPOCH)
    return row.cost_micro_usd if row else 0


async def by_key(
    pool: Pool, *, from_at: datetime.datetime, to_at: datetime.datetime, key_id: uuid.UUID | None
) -> list[q.SpendByKeyRow]:
    async with connection(pool) as conn:
        return await q.spend_by_key(conn, from_at=from_at, to_at=to_at, key_id=key_id)


async def by_model(
    pool: Pool, *, from_at: datetime.datetime, to_at: datetime.datetime, key_id: uuid.UUID | None
) -> list[q.SpendByModelRow]:
    async with connection(pool) as conn:
        return await q.spend_by_model(conn, from_at=from_at, to_at=to_at, key_id=key_id)


async def by_deployment(
    pool: Pool, *, from_at: datetime.datetime, to_at: datetime.datetime, key_id: uuid.UUID | None
) -> list[q.SpendByDeploymentRow]:
    async with connection(pool) as conn:
        return await q.spend_by_deployment(conn, from_at=from_at, to_at=to_at, key_id=key_id)


async def by_day(
    pool: Pool, *, from_at: datetime.datetime, to_at: datetime.datetime, key_id: uuid.UUID | None
) -> list[q.SpendByDayRow]:
    async with connection(pool) as conn:
        return await q.spend_by_day(conn, from_at=from_at, to_at=to_at, key_id=key_id)
