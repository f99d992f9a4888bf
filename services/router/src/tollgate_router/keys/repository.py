"""The virtual-key domain's only door to Postgres."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_common.db import connection
from tollgate_router.db import models
from tollgate_router.db import virtual_keys as q

Pool = AsyncConnectionPool[AsyncConnection[Any]]


async def key_insert(pool: Pool, **fields: Any) -> models.VirtualKey:
    async with connection(pool) as conn:
        row = await q.virtual_key_insert(conn, **fields)
    assert row is not None  # INSERT ... RETURNING
    return row


async def key_get(pool: Pool, key_id: uuid.UUID) -> models.VirtualKey | None:
    async with connection(pool) as conn:
        return await q.virtual_key_get(conn, id=key_id)


async def key_get_by_hash(pool: Pool, key_hash: str) -> models.VirtualKey | None:
    async with connection(pool) as conn:
        return await q.virtual_key_get_by_hash(conn, key_hash=key_hash)


async def key_list(pool: Pool, *, owner_ref: str | None, limit: int) -> list[models.VirtualKey]:
    async with connection(pool) as conn:
        return await q.virtual_key_list_by_owner(conn, owner_ref=owner_ref, lim=limit)


async def key_update(pool: Pool, **fields: Any) -> models.VirtualKey | None:
    async with connection(pool) as conn:
        return await q.virtual_key_update(conn, **fields)


async def key_set_blocked(pool: Pool, key_id: uuid.UUID, *, blocked: bool) -> models.VirtualKey | None:
    async with connection(pool) as conn:
        return await q.virtual_key_set_blocked(conn, id=key_id, blocked=blocked)


async def key_set_hash(
    pool: Pool, key_id: uuid.UUID, *, key_hash: str, key_prefix: str
) -> models.VirtualKey | None:
    async with connection(pool) as conn:
        return await q.virtual_key_set_hash(conn, id=key_id, key_hash=key_hash, key_prefix=key_prefix)


async def key_soft_delete(pool: Pool, key_id: uuid.UUID) -> int:
    async with connection(pool) as conn:
        return await q.virtual_key_soft_delete(conn, id=key_id)


async def key_list_with_budget(pool: Pool) -> list[models.VirtualKey]:
    async with connection(pool) as conn:
        return await q.virtual_key_list_with_budget(conn)
