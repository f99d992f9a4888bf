"""Per-job cost, price and margin (``api.job_costs``), computed after a job finishes.

``aggregate_job`` is what the ``aggregate_job`` Dramatiq actor runs. It is safe to run any number of
times: it reads the finished job and its calls and UPSERTs one row, then marks the job's
``job.finished`` outbox row processed. Margin = price (credits captured times the plan's
``usd_micro_per_credit``) minus provider cost (sum of the calls' micro-USD from the router).

In the same transaction, under the job's row lock, it folds the job into ``api.rollups`` exactly once:
it computes the job's parts (its contribution per model group, ``reports.allocation``), adds the
difference between them and the parts stored by the previous run (none the first time), and stores
the new parts. A repeat finds no difference and changes nothing; concurrent runs wait on the lock.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import psycopg
import structlog
from psycopg import AsyncConnection

from tollgate_api.calls import repository as calls_repo
from tollgate_api.errors import JobNotFound
from tollgate_api.jobs import repository as jobs_repo
from tollgate_api.jobs.service import (
    MAX_PAGE,
    OPEN_STATUSES,
    Pool,
    decode_cursor,
    encode_cursor_at,
    parse_status_filter,
    plan_of,
)
from tollgate_api.plans.pricing import revenue_micro_usd
from tollgate_api.reports.allocation import Part, fold_deltas, job_parts
from tollgate_api.usage import repository as repo
from tollgate_api.usage.schemas import (
    AdminCallView,
    AdminJobCosts,
    AdminJobDetail,
    AdminJobList,
    AdminJobSummary,
)
from tollgate_common.db import connection, interpret_error

_log = structlog.get_logger("tollgate.usage")


async def aggregate_job(conn: AsyncConnection[Any], job_id: uuid.UUID) -> bool:
    """Write the job's cost row; False when the job is unknown or still open (nothing to do yet)."""
    try:
        async with conn.transaction():
            if not await repo.lock_job(conn, job_id):
                _log.info("job_aggregation_skipped", job_id=str(job_id))
                return False
            previous_parts = await repo.lock_parts(conn, job_id)
            job = await jobs_repo.get(conn, job_id)
            if job is None or job.status in OPEN_STATUSES or job.completed_at is None:
                _log.info("job_aggregation_skipped", job_id=str(job_id))
                return False
            usage = await calls_repo.usage_for_job(conn, job_id)
            plan = plan_of(job)
            price_credits = job.credit_applied or 0
            price_usd_micro = revenue_micro_usd(plan, price_credits)
            await repo.upsert(
                conn,
                job_id=job.id,
                team_id=job.team_id,
                job_type=job.job_type,
                status=job.status,
                calls=usage.calls,
                successful_calls=usage.successful_calls,
                failed_calls=usage.failed_calls,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cost_micro_usd=usage.cost_micro_usd,
                price_credits=price_credits,
                price_usd_micro=price_usd_micro,
                margin_usd_micro=price_usd_micro - usage.cost_micro_usd,
                avg_latency_ms=usage.avg_latency_ms,
                finished_at=job.completed_at,
            )
            folded = await _fold_into_rollups(
                conn,
                job,
                previous_parts,
                usd_micro_per_credit=plan.usd_micro_per_credit,
                price_credits=price_credits,
            )
            await jobs_repo.outbox_mark_finished_done(conn, job_id)
    except psycopg.Error as exc:
        raise interpret_error(exc) from exc
    _log.info("job_aggregated", job_id=str(job_id), cost_micro_usd=usage.cost_micro_usd, rollup_deltas=folded)
    return True


async def _fold_into_rollups(
    conn: AsyncConnection[Any],
    job: jobs_repo.Job,
    previous: list[Part],
    *,
    usd_micro_per_credit: int,
    price_credits: int,
) -> int:
    """Replace the job's previous contribution to the rollups by its current one; the deltas applied."""
    assert job.completed_at is not None
    organization_id = await repo.organization_of(conn, job.team_id)
    assert organization_id is not None  # jobs.team_id references teams
    new = job_parts(
        team_id=job.team_id,
        organization_id=organization_id,
        job_type=job.job_type,
        status=job.status,
        created_at=job.created_at,
        finished_at=job.completed_at,
        price_credits=price_credits,
        usd_micro_per_credit=usd_micro_per_credit,
        groups=await repo.group_usage(conn, job.id),
    )
    deltas = fold_deltas(previous, new)
    if deltas:
        await repo.add_to_rollups(conn, deltas)
        await repo.replace_parts(conn, job.id, new)
    return len(deltas)


async def job_cost(conn: AsyncConnection[Any], job_id: uuid.UUID) -> repo.JobCost | None:
    return await repo.get(conn, job_id)


async def pending_aggregations(
    conn: AsyncConnection[Any], *, older_than: datetime.datetime, limit: int = 500
) -> list[uuid.UUID]:
    """Finished jobs whose aggregation has not run (the outbox safety net for lost enqueues)."""
    return await jobs_repo.outbox_pending(conn, older_than=older_than, limit=limit)


# ------------------------------------------------------------------------------------------ admin views


def _call_view(call: calls_repo.LlmCall) -> AdminCallView:
    return AdminCallView(
        call_id=str(call.id),
        model_group=call.model_group,
        purpose=call.purpose,
        status=call.status,
        resolved_model=call.resolved_model,
        deployment=call.deployment,
        router_request_id=call.router_request_id,
        prompt_tokens=call.prompt_tokens,
        completion_tokens=call.completion_tokens,
        cached_tokens=call.cached_tokens,
        cost_micro_usd=call.cost_micro_usd,
        latency_ms=call.latency_ms,
        cache_hit=call.cache_hit,
        attempts=call.attempts,
        streamed=call.streamed,
        finish_reason=call.finish_reason,
        error_kind=call.error_kind,
        error=call.error,
        created_at=call.created_at,
    )


async def admin_job_detail(pool: Pool, job_id: uuid.UUID) -> AdminJobDetail:
    async with connection(pool) as conn:
        job = await jobs_repo.get(conn, job_id)
        if job is None:
            raise JobNotFound()
        calls = await calls_repo.list_for_job(conn, job_id)
        stored = await repo.get(conn, job_id)
        usage = None if stored is not None else await calls_repo.usage_for_job(conn, job_id)
    if stored is not None:
        costs = AdminJobCosts(
            calls=stored.calls,
            successful_calls=stored.successful_calls,
            failed_calls=stored.failed_calls,
            prompt_tokens=stored.prompt_tokens,
            completion_tokens=stored.completion_tokens,
            cached_tokens=stored.cached_tokens,
            cost_micro_usd=stored.cost_micro_usd,
            price_credits=stored.price_credits,
            price_usd_micro=stored.price_usd_micro,
            margin_usd_micro=stored.margin_usd_micro,
            aggregated=True,
            computed_at=stored.computed_at,
        )
    else:
        assert usage is not None
        price_credits = job.credit_applied or 0
        price_usd = revenue_micro_usd(plan_of(job), price_credits)
        costs = AdminJobCosts(
            calls=usage.calls,
            successful_calls=usage.successful_calls,
            failed_calls=usage.failed_calls,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
            cost_micro_usd=usage.cost_micro_usd,
            price_credits=price_credits,
            price_usd_micro=price_usd,
            margin_usd_micro=price_usd - usage.cost_micro_usd,
            aggregated=False,
            computed_at=None,
        )
    return AdminJobDetail(
        job_id=str(job.id),
        team_id=str(job.team_id),
        user_id=job.user_id,
        job_type=job.job_type,
        status=job.status,
        metadata=dict(job.metadata or {}),
        error_message=job.error_message,
        plan=dict(job.plan or {}),
        credits_held=job.hold_credits if job.status in OPEN_STATUSES else 0,
        credit_applied=job.credit_applied,
        model_groups_used=list(job.model_groups_used),
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        expires_at=job.expires_at,
        costs=costs,
        calls=[_call_view(c) for c in calls],
    )


async def admin_list_jobs(
    pool: Pool,
    *,
    team_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
    job_type: str | None = None,
    created_after: datetime.datetime | None = None,
    created_before: datetime.datetime | None = None,
) -> AdminJobList:
    limit = max(1, min(limit, MAX_PAGE))
    async with connection(pool) as conn:
        rows = await jobs_repo.list_all(
            conn,
            team_id=team_id,
            status=parse_status_filter(status),
            job_type=job_type or None,
            created_after=created_after,
            created_before=created_before,
            cursor=decode_cursor(cursor) if cursor else None,
            limit=limit + 1,
        )
    page = rows[:limit]
    summaries = [
        AdminJobSummary(
            job_id=str(r.id),
            team_id=str(r.team_id),
            user_id=r.user_id,
            job_type=r.job_type,
            status=r.status,
            created_at=r.created_at,
            completed_at=r.completed_at,
            expires_at=r.expires_at,
            credits_held=r.hold_credits if r.status in OPEN_STATUSES else 0,
            credit_applied=r.credit_applied,
            cost_micro_usd=r.cost_micro_usd,
            price_usd_micro=r.price_usd_micro,
            margin_usd_micro=r.margin_usd_micro,
        )
        for r in page
    ]
    next_cursor = encode_cursor_at(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return AdminJobList(jobs=summaries, next_cursor=next_cursor)
