"""The spend log writes in batches off the request path and stays bounded while Postgres is down."""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_common.db import make_pool
from tollgate_router.spend.service import SpendLog, SpendRecord

KEY = uuid.uuid4()


def a_record(i: int, **fields: Any) -> SpendRecord:
    base: dict[str, Any] = {
        "request_id": f"req-{i}",
        "key_id": KEY,
        "owner_ref": "team",
        "model": "chat",
        "deployment_id": None,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "cost_micro_usd": 7,
        "latency_ms": 12,
        "status": "ok",
        "cache_hit": False,
        "error_kind": None,
        "created_at": datetime.datetime.now(datetime.UTC),
    }
    base.update(fields)
    return SpendRecord(**base)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[AsyncConnectionPool[AsyncConnection[Any]]]:
    p = make_pool(database_url, min_size=1, max_size=2)
    await p.open(wait=True)
    yield p
    await p.close()


async def test_records_land_in_few_batched_inserts(
    pool: AsyncConnectionPool[AsyncConnection[Any]], database_url: str
) -> None:
    log = SpendLog(pool=pool, batch_size=500, flush_interval_s=0.05)
    await log.start()
    started = time.perf_counter()
    for i in range(1_200):
        log.record(a_record(i, cost_micro_usd=i))
    recording = time.perf_counter() - started
    deadline = time.monotonic() + 5
    while log.written < 1_200 and time.monotonic() < deadline:  # noqa: ASYNC110 - polling the flusher
        await asyncio.sleep(0.02)
    await log.stop()
    assert recording < 0.5  # record() does no I/O
    assert log.written == 1_200
    assert log.flushes <= 4  # 1,200 rows in batches of up to 500, never one INSERT per record
    with psycopg.connect(database_url) as conn:
        count, total = conn.execute("SELECT count(*), sum(cost_micro_usd) FROM router.spend_log").fetchone()  # type: ignore[misc]
    assert count == 1_200
    assert total == sum(range(1_200))


async def test_a_retried_batch_is_not_counted_twice(
    pool: AsyncConnectionPool[AsyncConnection[Any]], database_url: str
) -> None:
    log = SpendLog(pool=pool)
    record = a_record(1)
    log.record(record)
    assert await log.flush_once()
    log.record(record)
    assert await log.flush_once()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM router.spend_log").fetchone() == (1,)


async def test_stop_flushes_what_is_buffered(
    pool: AsyncConnectionPool[AsyncConnection[Any]], database_url: str
) -> None:
    log = SpendLog(pool=pool, flush_interval_s=60)
    await log.start()
    for i in range(3):
        log.record(a_record(i))
    await log.stop()
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM router.spend_log").fetchone() == (3,)


async def test_an_unreachable_database_keeps_memory_bounded_and_never_blocks() -> None:
    closed_port = make_pool("postgresql://postgres@127.0.0.1:1/nope", min_size=0, max_size=1, timeout_s=0.2)
    await closed_port.open(wait=False)
    log = SpendLog(
        pool=closed_port,
        max_buffer=500,
        batch_size=100,
        flush_interval_s=0.01,
        max_backoff_s=0.05,
        connect_timeout_s=0.1,
        shutdown_timeout_s=0.3,
    )
    await log.start()
    started = time.perf_counter()
    for i in range(2_000):
        log.record(a_record(i))
        if i % 500 == 0:
            await asyncio.sleep(0.05)  # let the flusher fail a few times meanwhile
    assert time.perf_counter() - started < 2.0
    # bounded: max_buffer waiting (+ at most one batch being attempted); the oldest were dropped
    assert 400 <= log.depth <= 500
    assert 1_400 <= log.dropped <= 1_500
    await asyncio.sleep(0.2)
    assert log.depth <= 500  # failed batches went back, still bounded
    stopping = time.perf_counter()
    await log.stop()
    assert time.perf_counter() - stopping < 2.0
    assert log.depth == 0
    assert log.dropped == 2_000
    await closed_port.close()
