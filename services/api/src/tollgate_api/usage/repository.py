"""The only caller of the generated SQL for ``api.job_costs`` and the worker's rollup fold."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import job_costs as sql
from tollgate_api.db import rollups as rollups_sql
from tollgate_api.db.models import JobCost, JobStatus
from tollgate_api.reports.allocation import GroupUsage, Part

Conn = AsyncConnection[Any]

__all__ = [
    "JobCost",
    "add_to_rollups",
    "get",
    "group_usage",
    "lock_job",
    "lock_parts",
    "organization_of",
    "replace_parts",
    "upsert",
]


async def upsert(
    conn: Conn,
    *,
    job_id: uuid.UUID,
    team_id: uuid.UUID,
    job_type: str | None,
    status: JobStatus,
    calls: int,
    successful_calls: int,
    failed_calls: int,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int,
    cost_micro_usd: int,
    price_credits: int,
    price_usd_micro: int,
    margin_usd_micro: int,
    avg_latency_ms: int,
    finished_at: datetime.datetime,
) -> None:
    await sql.job_cost_upsert(
        conn,
        job_id=job_id,
        team_id=team_id,
        job_type=job_type,
        status=status,
        calls=calls,
        successful_calls=successful_calls,
        failed_calls=failed_calls,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        cost_micro_usd=cost_micro_usd,
        price_credits=price_credits,
        price_usd_micro=price_usd_micro,
        margin_usd_micro=margin_usd_micro,
        avg_latency_ms=avg_latency_ms,
        finished_at=finished_at,
    )


async def get(conn: Conn, job_id: uuid.UUID) -> JobCost | None:
    return await sql.job_cost_get(conn, job_id=job_id)


# ------------------------------------------------------------------------------- rollup fold (ADR 0007)


async def lock_job(conn: Conn, job_id: uuid.UUID) -> bool:
    """Lock the job's row until commit (serializes folds of one job); False when there is no job."""
    return await rollups_sql.rollup_job_lock(conn, job_id=job_id) is not None


async def group_usage(conn: Conn, job_id: uuid.UUID) -> list[GroupUsage]:
    rows = await rollups_sql.rollup_job_group_usage(conn, job_id=job_id)
    return [
        GroupUsage(
            model_group=r.model_group,
            calls=r.calls,
            successful_calls=r.successful_calls,
            failed_calls=r.failed_calls,
            cache_hit_calls=r.cache_hit_calls,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            cached_tokens=r.cached_tokens,
            cost_micro_usd=r.cost_micro_usd,
        )
        for r in rows
    ]


async def organization_of(conn: Conn, team_id: uuid.UUID) -> uuid.UUID | None:
    row = await rollups_sql.rollup_team_organization(conn, team_id=team_id)
    return row.organization_id if row is not None else None


async def lock_parts(conn: Conn, job_id: uuid.UUID) -> list[Part]:
    """The job's stored parts, locked; waits for a rollup rebuild in progress (ADR 0007)."""
    rows = await rollups_sql.job_cost_part_lock_by_job(conn, job_id=job_id)
    return [
        Part(
            model_group=r.model_group,
            team_id=r.team_id,
            organization_id=r.organization_id,
            job_type=r.job_type,
            finished_at=r.finished_at,
            jobs=r.jobs,
            completed_jobs=r.completed_jobs,
            failed_jobs=r.failed_jobs,
            expired_jobs=r.expired_jobs,
            calls=r.calls,
            successful_calls=r.successful_calls,
            failed_calls=r.failed_calls,
            cache_hit_calls=r.cache_hit_calls,
            prompt_tokens=r.prompt_tokens,
            completion_tokens=r.completion_tokens,
            cached_tokens=r.cached_tokens,
            cost_micro_usd=r.cost_micro_usd,
            price_credits=r.price_credits,
            revenue_micro_usd=r.revenue_micro_usd,
            duration_ms=r.duration_ms,
        )
        for r in rows
    ]


async def replace_parts(conn: Conn, job_id: uuid.UUID, new: list[Part]) -> None:
    await rollups_sql.job_cost_part_delete_by_job(conn, job_id=job_id)
    for p in new:
        await rollups_sql.job_cost_part_insert(
            conn,
            job_id=job_id,
            model_group=p.model_group,
            team_id=p.team_id,
            organization_id=p.organization_id,
            job_type=p.job_type,
            finished_at=p.finished_at,
            jobs=p.jobs,
            completed_jobs=p.completed_jobs,
            failed_jobs=p.failed_jobs,
            expired_jobs=p.expired_jobs,
            calls=p.calls,
            successful_calls=p.successful_calls,
            failed_calls=p.failed_calls,
            cache_hit_calls=p.cache_hit_calls,
            prompt_tokens=p.prompt_tokens,
            completion_tokens=p.completion_tokens,
            cached_tokens=p.cached_tokens,
            cost_micro_usd=p.cost_micro_usd,
            price_credits=p.price_credits,
            revenue_micro_usd=p.revenue_micro_usd,
            duration_ms=p.duration_ms,
        )


async def add_to_rollups(conn: Conn, deltas: list[Part]) -> None:
    """Add signed deltas to the quarter, hour, day and month rollups of their keys: detailed,
    team-less, and per team over all job types and model groups.

    One table after the other, each in key order (``deltas`` come sorted), so two folds always take
    their row locks in the same order and cannot deadlock."""
    for delta in deltas:
        await rollups_sql.rollup_add(
            conn,
            finished_at=delta.finished_at,
            team_id=delta.team_id,
            job_type=delta.job_type,
            model_group=delta.model_group,
            organization_id=delta.organization_id,
            **_measures(delta),
        )
    for delta in deltas:
        await rollups_sql.rollup_global_add(
            conn,
            finished_at=delta.finished_at,
            job_type=delta.job_type,
            model_group=delta.model_group,
            **_measures(delta),
        )
    for delta in deltas:
        await rollups_sql.rollup_team_add(
            conn,
            finished_at=delta.finished_at,
            team_id=delta.team_id,
            organization_id=delta.organization_id,
            **_measures(delta),
        )


def _measures(delta: Part) -> dict[str, int]:
    return {
        "jobs": delta.jobs,
        "completed_jobs": delta.completed_jobs,
        "failed_jobs": delta.failed_jobs,
        "expired_jobs": delta.expired_jobs,
        "calls": delta.calls,
        "successful_calls": delta.successful_calls,
        "failed_calls": delta.failed_calls,
        "cache_hit_calls": delta.cache_hit_calls,
        "prompt_tokens": delta.prompt_tokens,
        "completion_tokens": delta.completion_tokens,
        "cached_tokens": delta.cached_tokens,
        "cost_micro_usd": delta.cost_micro_usd,
        "price_credits": delta.price_credits,
        "revenue_micro_usd": delta.revenue_micro_usd,
        "duration_ms": delta.duration_ms,
    }
