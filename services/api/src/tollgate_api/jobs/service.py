"""Job lifecycle: create (with a credit hold), read, list, finish exactly once, expire.

State machine (one row per job, ``api.jobs.status``)::

    pending ──first call──► in_progress ──complete(completed)──► completed
       │                        │        ──complete(failed)─────► failed
       └────────────────────────┴──────── TTL passed (worker) ──► expired

Money moves in the same transaction as the state change:

* create: insert the job and ``credits.place_hold(plans.hold_amount(...))`` together; a repeated
  ``idempotency_key`` returns the first job and holds nothing more.
* complete / expire: ``SELECT … FOR UPDATE`` the job; price it with the plan captured at create
  (``plans.price_job``; failed and expired jobs follow the plan's ``failed_job_policy``, not the
  client's word alone); ``credits.settle_hold`` captures up to the hold and releases the rest; the
  response is stored on the job so a repeat with the same outcome returns it unchanged and a
  different outcome is refused (409); a ``job.finished`` outbox row is written; after commit the
  ``aggregate_job`` actor is enqueued (the outbox row is the safety net when the enqueue fails).
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.auth.team import TeamPrincipal
from tollgate_api.calls import repository as calls_repo
from tollgate_api.credits import service as credits
from tollgate_api.errors import (
    BadRequest,
    Forbidden,
    IdempotencyConflict,
    JobAlreadyFinished,
    JobNotFound,
    JobNotOpen,
    TeamNotActive,
)
from tollgate_api.jobs import repository as repo
from tollgate_api.jobs.schemas import (
    JOB_STATUSES,
    CompleteJobResponse,
    CreateJobRequest,
    JobCallSummary,
    JobCosts,
    JobList,
    JobView,
    MetadataView,
    UsageByType,
    UsageReport,
    UsageSummary,
    normalize_status,
)
from tollgate_api.plans.pricing import JobUsage, Plan, hold_amount, price_job
from tollgate_api.routerclient import RouterClient
from tollgate_api.settings import ApiSettings
from tollgate_api.webhooks.events import emit_event
from tollgate_common.db import connection, transaction

_log = structlog.get_logger("tollgate.jobs")

Pool = AsyncConnectionPool[AsyncConnection[Any]]
Enqueue = Callable[[uuid.UUID], Awaitable[None]]

OPEN_STATUSES: Final = frozenset({"pending", "in_progress"})
FINISH_OUTCOMES: Final = ("completed", "failed")
MAX_PAGE: Final = 200


@dataclass(frozen=True, slots=True)
class JobsContext:
    """What the job and call services need, built once by the composition root (app.py)."""

    pool: Pool
    router: RouterClient
    settings: ApiSettings
    enqueue_aggregation: Enqueue
    # Sends the webhook sweep after a finish committed (its deliveries were written in the transaction).
    enqueue_webhooks: Callable[[], Awaitable[None]] | None = None


# ------------------------------------------------------------------------------------------ plans


def plan_snapshot(plan: Plan) -> dict[str, Any]:
    """The plan as JSON, stored on the job at create so the final price uses the same rules."""
    return {
        "id": str(plan.id),
        "name": plan.name,
        "kind": plan.kind,
        "credits_per_job": plan.credits_per_job,
        "per_job_type": dict(plan.per_job_type),
        "credits_per_usd": plan.credits_per_usd,
        "markup_bps": plan.markup_bps,
        "tokens_per_credit": plan.tokens_per_credit,
        "min_credits_per_job": plan.min_credits_per_job,
        "usd_micro_per_credit": plan.usd_micro_per_credit,
        "failed_job_policy": plan.failed_job_policy,
        "default_hold_credits": plan.default_hold_credits,
        "max_hold_credits": plan.max_hold_credits,
    }


def plan_of(job: repo.Job) -> Plan:
    return msgspec.convert(job.plan, Plan, strict=False)


def usage_of(row: calls_repo.UsageRow) -> JobUsage:
    return JobUsage(
        calls=row.calls,
        successful_calls=row.successful_calls,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        cost_micro_usd=row.cost_micro_usd,
    )


# ------------------------------------------------------------------------------------------ views


def view(job: repo.Job) -> JobView:
    return JobView(
        job_id=str(job.id),
        team_id=str(job.team_id),
        user_id=job.user_id,
        job_type=job.job_type,
        status=job.status,
        created_at=job.created_at,
        started_at=job.started_at,
        completed_at=job.completed_at,
        expires_at=job.expires_at,
        metadata=dict(job.metadata or {}),
        error_message=job.error_message,
        credit_applied=job.credit_applied,
        credits_held=job.hold_credits if job.status in OPEN_STATUSES else 0,
        model_groups_used=list(job.model_groups_used),
    )


def check_team_claim(team: TeamPrincipal, claimed: str | None) -> None:
    """A ``team_id`` in a body must be the key's team (SaaS LiteLLM clients always send it)."""
    if claimed is not None and claimed.strip() and claimed.strip() != str(team.team_id):
        raise Forbidden("team_id does not match the API key's team.")


def parse_job_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise JobNotFound() from None


# ------------------------------------------------------------------------------------------ create


async def create_job(ctx: JobsContext, team: TeamPrincipal, req: CreateJobRequest) -> repo.Job:
    """Insert the job and hold its credits in one transaction (402 when they cannot be held)."""
    check_team_claim(team, req.team_id)
    if team.status != "active":
        raise TeamNotActive("The team cannot start new jobs.")
    hold = hold_amount(team.plan, job_type=req.job_type, max_credits=req.max_credits)
    job_id = uuid.uuid4()
    now = datetime.datetime.now(datetime.UTC)
    ttl = team.job_ttl_s or ctx.settings.jobs.default_ttl_s
    async with transaction(ctx.pool) as conn:
        job = await repo.insert(
            conn,
            id=job_id,
            team_id=team.team_id,
            user_id=req.user_id,
            job_type=req.job_type,
            metadata=dict(req.metadata or {}),
            idempotency_key=req.idempotency_key,
            plan=plan_snapshot(team.plan),
            hold_credits=hold,
            max_credits=req.max_credits,
            expires_at=now + datetime.timedelta(seconds=ttl),
        )
        if job is None:
            assert req.idempotency_key is not None
            existing = await repo.get_by_idempotency_key(conn, team_id=team.team_id, key=req.idempotency_key)
            if existing is None:  # pragma: no cover - the conflicting row is committed by then
                raise JobNotFound()
            if (existing.job_type, existing.max_credits, existing.user_id) != (
                req.job_type,
                req.max_credits,
                req.user_id,
            ):
                raise IdempotencyConflict("This idempotency_key was used for a different job.")
            return existing
        await credits.place_hold(
            conn,
            team_id=team.team_id,
            job_id=job_id,
            amount=hold,
            idempotency_key=f"job:{job_id}:hold",
            actor=f"team-key:{team.key_id}",
        )
    _log.info("job_created", job_id=str(job_id), team_id=str(team.team_id), hold=hold)
    return job


# ------------------------------------------------------------------------------------------ reads


async def get_job(ctx: JobsContext, team: TeamPrincipal, job_id: uuid.UUID) -> repo.Job:
    """The team's job; another team's job is "not found" (never 403: ids reveal nothing)."""
    async with connection(ctx.pool) as conn:
        job = await repo.get_for_team(conn, job_id=job_id, team_id=team.team_id)
    if job is None:
        raise JobNotFound()
    return job


async def merge_metadata(
    ctx: JobsContext, team: TeamPrincipal, job_id: uuid.UUID, patch: dict[str, Any]
) -> MetadataView:
    async with connection(ctx.pool) as conn:
        row = await repo.merge_metadata(conn, job_id=job_id, team_id=team.team_id, patch=patch)
    if row is None:
        raise JobNotFound()
    return MetadataView(job_id=str(row.id), metadata=dict(row.metadata or {}), updated_at=row.updated_at)


def encode_cursor_at(created_at: datetime.datetime, job_id: uuid.UUID) -> str:
    raw = f"{created_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def encode_cursor(job: repo.Job) -> str:
    return encode_cursor_at(job.created_at, job.id)


def decode_cursor(cursor: str) -> tuple[datetime.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        return datetime.datetime.fromisoformat(stamp), uuid.UUID(ident)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("cursor is not valid; pass back next_cursor unchanged.") from None


def parse_status_filter(status: str | None) -> repo.JobStatus | None:
    if status is None or not status.strip():
        return None
    value = normalize_status(status)
    if value not in JOB_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(JOB_STATUSES)}")
    return value  # type: ignore[return-value]


async def list_jobs(
    ctx: JobsContext,
    team: TeamPrincipal,
    *,
    status: str | None = None,
    job_type: str | None = None,
    created_after: datetime.datetime | None = None,
    created_before: datetime.datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> JobList:
    limit = max(1, min(limit, MAX_PAGE))
    async with connection(ctx.pool) as conn:
        rows = await repo.list_for_team(
            conn,
            team_id=team.team_id,
            status=parse_status_filter(status),
            job_type=job_type,
            created_after=created_after,
            created_before=created_before,
            cursor=decode_cursor(cursor) if cursor else None,
            limit=limit + 1,
            offset=max(0, offset),
        )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
    return JobList(jobs=[view(j) for j in page], next_cursor=next_cursor)


def month_bounds(period: str) -> tuple[datetime.datetime, datetime.datetime]:
    try:
        year_s, month_s = period.split("-")
        start = datetime.datetime(int(year_s), int(month_s), 1, tzinfo=datetime.UTC)
    except ValueError:
        raise BadRequest("period must look like YYYY-MM") from None
    end = (
        start.replace(year=start.year + 1, month=1)
        if start.month == 12
        else start.replace(month=start.month + 1)
    )
    return start, end


async def usage_report(ctx: JobsContext, team: TeamPrincipal, period: str) -> UsageReport:
    start, end = month_bounds(period)
    async with connection(ctx.pool) as conn:
        rows = await repo.usage_by_type(conn, team_id=team.team_id, start=start, end=end)
    by_type = {
        (row.job_type or "unspecified"): UsageByType(
            count=row.total_jobs,
            successful=row.successful_jobs,
            failed=row.failed_jobs,
            expired=row.expired_jobs,
            open=row.open_jobs,
            credits_used=row.credits_used,
        )
        for row in rows
    }
    summary = UsageSummary(
        total_jobs=sum(r.total_jobs for r in rows),
        successful_jobs=sum(r.successful_jobs for r in rows),
        failed_jobs=sum(r.failed_jobs for r in rows),
        expired_jobs=sum(r.expired_jobs for r in rows),
        open_jobs=sum(r.open_jobs for r in rows),
        credits_used=sum(r.credits_used for r in rows),
    )
    return UsageReport(team_id=str(team.team_id), period=period, summary=summary, job_types=by_type)


# ------------------------------------------------------------------------------------------ finish


def _outcome(status: str) -> str:
    value = normalize_status(status)
    if value not in FINISH_OUTCOMES:
        raise BadRequest("status must be completed or failed")
    return value


def _calls_view(calls: list[calls_repo.LlmCall], *, show_tokens: bool) -> list[JobCallSummary]:
    out = []
    for call in calls:
        summary = JobCallSummary(
            call_id=str(call.id),
            purpose=call.purpose,
            model_group=call.model_group,
            latency_ms=call.latency_ms,
            error=call.error,
        )
        if show_tokens:
            summary.tokens = call.prompt_tokens + call.completion_tokens
        out.append(summary)
    return out


async def _finish_locked(
    conn: AsyncConnection[Any],
    job: repo.Job,
    *,
    outcome: str,
    show_tokens: bool,
    actor: str,
    metadata: dict[str, Any] | None,
    error_message: str | None,
    now: datetime.datetime,
) -> tuple[CompleteJobResponse, int]:
    """Price, settle and close a job whose row the caller holds ``FOR UPDATE``; the response and the
    number of webhook deliveries the finish wrote."""
    usage_row = await calls_repo.usage_for_job(conn, job.id)
    plan = plan_of(job)
    charge = price_job(plan, usage_of(usage_row), job_type=job.job_type, outcome=outcome)  # type: ignore[arg-type]
    settlement = await credits.settle_hold(
        conn,
        team_id=job.team_id,
        job_id=job.id,
        charge=charge,
        idempotency_key=f"job:{job.id}:settle",
        actor=actor,
    )
    calls = await calls_repo.list_for_job(conn, job.id)
    costs = JobCosts(
        total_calls=usage_row.calls,
        successful_calls=usage_row.successful_calls,
        failed_calls=usage_row.failed_calls,
        avg_latency_ms=usage_row.avg_latency_ms,
        credit_applied=settlement.credit_applied,
        credits_remaining=settlement.available,
    )
    if show_tokens:
        costs.total_tokens = usage_row.prompt_tokens + usage_row.completion_tokens
    response = CompleteJobResponse(
        job_id=str(job.id),
        status=outcome,
        completed_at=now,
        costs=costs,
        calls=_calls_view(calls, show_tokens=show_tokens),
    )
    finished = await repo.finish(
        conn,
        job_id=job.id,
        status=outcome,  # type: ignore[arg-type]
        completed_at=now,
        credit_applied=settlement.credit_applied,
        error_message=error_message,
        metadata_patch=dict(metadata or {}),
        result=msgspec.to_builtins(response),
    )
    if not finished:  # pragma: no cover - the row lock makes this impossible
        raise JobNotOpen()
    await repo.outbox_add_finished(
        conn, job_id=job.id, payload={"status": outcome, "credit_applied": settlement.credit_applied}
    )
    deliveries = await emit_event(
        conn,
        team_id=job.team_id,
        event="job.completed" if outcome == "completed" else "job.failed",
        payload=_webhook_payload(job, outcome, settlement.credit_applied, now, metadata, error_message),
        dedupe_key=f"job:{job.id}",
    )
    return response, deliveries


def _webhook_payload(  # noqa: PLR0917 - the finished job's facts
    job: repo.Job,
    outcome: str,
    credits_charged: int,
    now: datetime.datetime,
    metadata: dict[str, Any] | None,
    error_message: str | None,
) -> dict[str, Any]:
    """What a team's webhook receives about its job: no model, provider, token count or cost."""
    return {
        "job_id": str(job.id),
        "job_type": job.job_type,
        "status": outcome,
        "reason": None if outcome == "completed" else outcome,
        "credits_charged": credits_charged,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "completed_at": now.isoformat(),
        "metadata": {**dict(job.metadata or {}), **dict(metadata or {})},
        "error_message": error_message,
    }


async def complete_job(
    ctx: JobsContext,
    team: TeamPrincipal,
    job_id: uuid.UUID,
    *,
    status: str,
    metadata: dict[str, Any] | None = None,
    error_message: str | None = None,
) -> CompleteJobResponse:
    """Finish a job exactly once. A repeat with the same outcome returns the first response."""
    outcome = _outcome(status)
    now = datetime.datetime.now(datetime.UTC)
    async with transaction(ctx.pool) as conn:
        job = await repo.lock_for_finish(conn, job_id=job_id, team_id=team.team_id)
        if job is None:
            raise JobNotFound()
        if job.status not in OPEN_STATUSES:
            if job.status == outcome and job.result is not None:
                return msgspec.convert(job.result, CompleteJobResponse, strict=False)
            if job.status == "expired":
                raise JobNotOpen("The job expired before it was completed.")
            raise JobAlreadyFinished(f"The job already finished as {job.status}.")
        response, deliveries = await _finish_locked(
            conn,
            job,
            outcome=outcome,
            show_tokens=team.show_tokens,
            actor=f"team-key:{team.key_id}",
            metadata=metadata,
            error_message=error_message,
            now=now,
        )
    _log.info(
        "job_finished", job_id=str(job_id), status=outcome, credit_applied=response.costs.credit_applied
    )
    await _enqueue(ctx.enqueue_aggregation, job_id)
    if deliveries and ctx.enqueue_webhooks is not None:
        await ctx.enqueue_webhooks()  # logs and swallows its failures (the sweep delivers anyway)
    return response


async def _enqueue(enqueue: Enqueue, job_id: uuid.UUID) -> None:
    try:
        await enqueue(job_id)
    except Exception as exc:  # the outbox row makes the aggregation happen later anyway
        _log.warning("aggregation_enqueue_failed", job_id=str(job_id), error=type(exc).__name__)


async def expire_due_jobs(
    pool: Pool,
    now: datetime.datetime,
    *,
    limit: int = 500,
    enqueue: Enqueue | None = None,
) -> int:
    """Expire open jobs past their TTL: priced by the plan's failed-job policy (``none`` releases the
    whole hold), settled and closed like a complete. Safe to run from several workers at once
    (``FOR UPDATE SKIP LOCKED``). Returns the number of jobs expired."""
    async with transaction(pool) as conn:
        due = await repo.lock_due_for_expiry(conn, now=now, limit=limit)
        for job in due:
            await _finish_locked(
                conn,
                job,
                outcome="expired",
                show_tokens=False,
                actor="system:expiry",
                metadata=None,
                error_message="The job was not completed before its TTL.",
                now=now,
            )
    for job in due:
        _log.info("job_expired", job_id=str(job.id), team_id=str(job.team_id))
        if enqueue is not None:
            await _enqueue(enqueue, job.id)
    return len(due)
