"""The only caller of the generated SQL for ``api.job_costs``."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import job_costs as sql
from tollgate_api.db.models import JobCost, JobStatus

Conn = AsyncConnection[Any]

__all__ = ["JobCost", "get", "upsert"]


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
