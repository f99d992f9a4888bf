"""``provide_services()`` for actors: what a message needs, a pooled connection for its duration.

Each worker process keeps one connection pool per event loop (Dramatiq's AsyncIO middleware runs every
actor of the process on one loop; tests start a loop per worker), opened on first use and closed by
:class:`WorkerPools` when the worker shuts down. A connection per message used to be opened instead:
on the job API bench that cost Postgres more CPU than the aggregation itself (a backend forked and
its catalog caches warmed for every message, ~12 ms of Postgres CPU per job; docs/performance.md).
Pool size: ``TOLLGATE_DATABASE_POOL_MIN`` / ``..._MAX``, like the api's.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import dramatiq
import psycopg
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from tollgate_api.settings import ApiSettings
from tollgate_api.worker.broker import current_settings
from tollgate_common.db import interpret_error, make_pool

__all__ = ["WorkerPools", "WorkerServices", "close_pools", "provide_services"]

_log = structlog.get_logger("tollgate.worker")

Pool = AsyncConnectionPool[AsyncConnection[Any]]
# (loop, database url) -> the pool bound to that loop
_pools: dict[tuple[asyncio.AbstractEventLoop, str], Pool] = {}


@dataclass(frozen=True, slots=True)
class WorkerServices:
    settings: ApiSettings
    conn: AsyncConnection[Any]


async def _pool(settings: ApiSettings) -> Pool:
    loop = asyncio.get_running_loop()
    key = (loop, settings.database.url)
    pool = _pools.get(key)
    if pool is None:
        for other in [k for k in _pools if k[0].is_closed()]:  # a finished test's loop
            del _pools[other]
        database = settings.database
        pool = make_pool(
            database.url,
            min_size=min(database.pool_min, database.pool_max),
            max_size=database.pool_max,
            timeout_s=database.pool_timeout_s,
            name="tollgate-worker",
        )
        _pools[key] = pool
        await pool.open(wait=False)
    return pool


@asynccontextmanager
async def provide_services() -> AsyncIterator[WorkerServices]:
    settings = current_settings()
    pool = await _pool(settings)
    try:
        conn = await pool.getconn()
    except (psycopg.Error, PoolTimeout) as exc:
        raise interpret_error(exc) from exc
    try:
        yield WorkerServices(settings=settings, conn=conn)
    finally:
        await pool.putconn(conn)  # a connection left in a failed state is reset or discarded by the pool


def close_pools(timeout_s: float = 10.0) -> None:
    """Close every pool on its own loop (called from a Dramatiq thread, not from a loop)."""
    for (loop, _url), pool in list(_pools.items()):
        if loop.is_closed() or not loop.is_running():
            continue
        try:
            asyncio.run_coroutine_threadsafe(pool.close(timeout=timeout_s), loop).result(timeout_s + 1)
        except (concurrent.futures.TimeoutError, RuntimeError) as exc:
            _log.warning("worker_pool_close_failed", error=type(exc).__name__)
    _pools.clear()


class WorkerPools(dramatiq.Middleware):
    """Closes the worker's connection pools at shutdown. Add it BEFORE the AsyncIO middleware: its
    ``before_worker_shutdown`` must run while the event loop still does."""

    def before_worker_shutdown(self, broker: dramatiq.Broker, worker: dramatiq.Worker) -> None:
        close_pools()
