"""Monthly partitions of api.llm_calls: the DEFAULT partition catches any month, upkeep creates the
coming months and moves stray rows out of DEFAULT, idempotently and safely when run concurrently."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from typing import Any

import psycopg
from psycopg import AsyncConnection

from tollgate_api.usage.partitions import ensure_llm_call_partitions, partition_name

UTC = datetime.UTC


async def _job(conn: AsyncConnection[Any]) -> tuple[uuid.UUID, uuid.UUID]:
    org, plan, team, job = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await conn.execute("INSERT INTO api.organizations (id, name) VALUES (%s, %s)", (org, f"o-{org}"))
    await conn.execute(
        "INSERT INTO api.pricing_plans (id, name, kind, usd_micro_per_credit) VALUES (%s, %s, 'per_job', 1)",
        (plan, f"p-{plan}"),
    )
    await conn.execute(
        "INSERT INTO api.teams (id, organization_id, name, pricing_plan_id, virtual_key_encrypted)"
        " VALUES (%s, %s, 't', %s, 'x')",
        (team, org, plan),
    )
    await conn.execute(
        "INSERT INTO api.jobs (id, team_id, plan, hold_credits, expires_at) VALUES (%s, %s, '{}', 0, now())",
        (job, team),
    )
    return team, job


async def _call(conn: AsyncConnection[Any], team: uuid.UUID, job: uuid.UUID, at: datetime.datetime) -> None:
    await conn.execute(
        "INSERT INTO api.llm_calls (id, job_id, team_id, model_group, status, cost_micro_usd, created_at)"
        " VALUES (%s, %s, %s, 'g', 'succeeded', 7, %s)",
        (uuid.uuid4(), job, team, at),
    )


async def _where(conn: AsyncConnection[Any], job: uuid.UUID) -> list[str]:
    cursor = await conn.execute(
        "SELECT tableoid::regclass::text FROM api.llm_calls WHERE job_id = %s ORDER BY created_at", (job,)
    )
    return [str(row[0]) for row in await cursor.fetchall()]


async def test_calls_of_any_month_are_stored_and_upkeep_moves_them_out_of_default(database_url: str) -> None:
    now = datetime.datetime.now(UTC)
    old = datetime.datetime(2019, 1, 15, 12, tzinfo=UTC)
    async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
        team, job = await _job(conn)
        await _call(conn, team, job, now)
        await _call(conn, team, job, old)  # no partition for 2019-01: DEFAULT takes it
        assert await _where(conn, job) == ["api.llm_calls_default", f"api.{partition_name(now)}"]

        created = await ensure_llm_call_partitions(conn, months_ahead=5)

        assert created[0] == "llm_calls_y2019m01"
        ahead = now.year * 12 + now.month - 1 + 5
        assert f"llm_calls_y{ahead // 12:04d}m{ahead % 12 + 1:02d}" in created  # 3 ahead came with 0017
        assert await _where(conn, job) == ["api.llm_calls_y2019m01", f"api.{partition_name(now)}"]
        cursor = await conn.execute(
            "SELECT count(*), sum(cost_micro_usd) FROM api.llm_calls WHERE job_id = %s", (job,)
        )
        assert await cursor.fetchone() == (2, 14)
        cursor = await conn.execute(
            "SELECT count(*) FROM pg_index i JOIN pg_inherits h ON h.inhrelid = i.indrelid"
            " WHERE h.inhparent = 'api.llm_calls'::regclass"
            " AND i.indrelid = 'api.llm_calls_y2019m01'::regclass"
        )
        assert await cursor.fetchone() == (4,)  # the parent's primary key and three indexes

        assert await ensure_llm_call_partitions(conn, months_ahead=5) == []


async def test_concurrent_upkeep_creates_each_partition_once(database_url: str) -> None:
    async def run() -> list[str]:
        async with await AsyncConnection.connect(database_url, autocommit=True) as conn:
            return await ensure_llm_call_partitions(conn, months_ahead=12)

    first, second = await asyncio.gather(run(), run())
    assert sorted(first + second) == sorted(set(first + second))
    assert len(first + second) == 12 - 3  # 0017 made 3 months ahead


def test_partition_key_is_part_of_the_primary_key(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'llm_calls_pkey'"
            " AND conrelid = 'api.llm_calls'::regclass"
        ).fetchone()
    assert row == ("PRIMARY KEY (id, created_at)",)
