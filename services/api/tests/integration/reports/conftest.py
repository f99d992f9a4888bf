"""Row builders for the rollup and report tests: organizations, teams, finished jobs and their calls
written straight into Postgres (the job API itself is exercised by test_reports_http.py).

    ledger = raw_world  # fixture
    team = await raw.team()
    job = await raw.job(team, price=10, finished="2026-11-01T23:30:00Z", calls=[("g-a", 1000), ...])
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_common.db import make_pool

UTC = datetime.UTC


def at(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@dataclass(frozen=True)
class Team:
    team_id: uuid.UUID
    organization_id: uuid.UUID


@dataclass(frozen=True)
class Call:
    model_group: str
    cost: int = 0
    status: str = "succeeded"
    prompt: int = 10
    completion: int = 5
    cached: int = 0
    cache_hit: bool = False


@dataclass
class RawWorld:
    pool: AsyncConnectionPool[AsyncConnection[Any]]
    n: int = 0

    async def team(self, organization_id: uuid.UUID | None = None) -> Team:
        self.n += 1
        async with self.pool.connection() as conn:
            if organization_id is None:
                organization_id = uuid.uuid4()
                await conn.execute(
                    "INSERT INTO api.organizations (id, name) VALUES (%s, %s)",
                    (organization_id, f"org-{self.n}"),
                )
            plan_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO api.pricing_plans (id, name, kind, credits_per_job, usd_micro_per_credit)"
                " VALUES (%s, %s, 'per_job', 1, 10000)",
                (plan_id, f"plan-{self.n}"),
            )
            team_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO api.teams (id, organization_id, name, pricing_plan_id, virtual_key_encrypted)"
                " VALUES (%s, %s, %s, %s, 'x')",
                (team_id, organization_id, f"team-{self.n}", plan_id),
            )
        return Team(team_id, organization_id)

    async def job(
        self,
        team: Team,
        *,
        price: int = 0,
        usd_micro_per_credit: int = 10_000,
        status: str = "completed",
        job_type: str | None = "poem",
        created: str | None = None,
        finished: str | None = "2026-11-10T12:00:00Z",
        calls: Sequence[Call] = (),
    ) -> uuid.UUID:
        job_id = uuid.uuid4()
        done = at(finished) if finished else None
        start = (
            at(created)
            if created
            else (done or at("2026-11-10T12:00:00Z")) - datetime.timedelta(seconds=42.5)
        )
        plan = {
            "id": str(uuid.uuid4()),
            "name": "p",
            "kind": "per_job",
            "usd_micro_per_credit": usd_micro_per_credit,
        }
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO api.jobs (id, team_id, job_type, status, plan, hold_credits, credit_applied,"
                " created_at, completed_at, expires_at)"
                " VALUES (%s, %s, %s, %s, %s, 0, %s, %s, %s, %s)",
                (
                    job_id,
                    team.team_id,
                    job_type,
                    status,
                    json.dumps(plan),
                    price if done else None,
                    start,
                    done,
                    start + datetime.timedelta(hours=1),
                ),
            )
            for call in calls:
                await self.call(team, job_id, call, conn=conn, created=start)
        return job_id

    async def call(
        self,
        team: Team,
        job_id: uuid.UUID,
        call: Call,
        *,
        conn: AsyncConnection[Any] | None = None,
        created: datetime.datetime | None = None,
    ) -> None:
        sql = (
            "INSERT INTO api.llm_calls (id, job_id, team_id, model_group, prompt_tokens, completion_tokens,"
            " cached_tokens, cost_micro_usd, status, cache_hit, latency_ms, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 100, %s)"
        )
        args = (
            uuid.uuid4(),
            job_id,
            team.team_id,
            call.model_group,
            call.prompt,
            call.completion,
            call.cached,
            call.cost,
            call.status,
            call.cache_hit,
            created or at("2026-11-10T12:00:00Z"),
        )
        if conn is not None:
            await conn.execute(sql, args)
            return
        async with self.pool.connection() as own:
            await own.execute(sql, args)

    async def rollups(self) -> list[tuple[Any, ...]]:
        """Every rollup row (zero rows left by deltas dropped), in key order."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                "SELECT * FROM api.rollups WHERE (jobs, calls, price_credits, cost_micro_usd, duration_ms,"
                " prompt_tokens) <> (0, 0, 0, 0, 0, 0)"
                " ORDER BY grain, bucket, team_id, job_type, model_group"
            )
            return list(await cur.fetchall())

    async def scalar(self, sql: str, *args: Any) -> Any:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, args)
            row = await cur.fetchone()
        assert row is not None
        return row[0]


@pytest.fixture
async def raw(database_url: str) -> AsyncIterator[RawWorld]:
    pool = make_pool(database_url, min_size=1, max_size=8)
    await pool.open()
    try:
        yield RawWorld(pool)
    finally:
        await pool.close()
