"""Rollup repair (:func:`rebuild_rollups`, :func:`verify_rollups`) and the finance reports.

Grouped reports read ``api.rollups`` only (never raw calls), over the buckets
:func:`tollgate_api.reports.timerange.segments` picks for the range and time zone; at most one row per
group comes back, so they are sorted and paged here. The per-job list reads ``api.job_costs`` by finish
time, keyset-paged; its CSV export walks the same pages (:func:`iter_job_margins`).
"""

from __future__ import annotations

import base64
import datetime
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import psycopg
import structlog
from psycopg import AsyncConnection

from tollgate_api.errors import InvalidReportQuery, TeamNotFound
from tollgate_api.jobs.service import Pool
from tollgate_api.reports import repository as repo
from tollgate_api.reports.schemas import (
    JobMarginDetail,
    JobMarginList,
    JobMarginRow,
    JobPartView,
    LedgerLine,
    MarginReport,
    MarginRow,
    RebuildResult,
    RollupDrift,
    TeamStatement,
)
from tollgate_api.reports.timerange import UTC, Range, month_range, parse_range, segments
from tollgate_api.usage import service as usage
from tollgate_common.db import connection, interpret_error

_log = structlog.get_logger("tollgate.reports")

GROUPS: Final = ("team", "organization", "job_type", "model_group", "day", "week", "month")
SORTS: Final = ("key", "jobs", "calls", "cost", "price", "revenue", "margin", "margin_pct")
STATUSES: Final = ("completed", "failed", "expired")
MAX_LIMIT: Final = 1000
EXPORT_BATCH: Final = 1000


# ------------------------------------------------------------------------------------ rebuild / verify


def _month_floor(at: datetime.datetime) -> datetime.datetime:
    at = at.astimezone(UTC)
    return datetime.datetime(at.year, at.month, 1, tzinfo=UTC)


def month_aligned(
    since: datetime.datetime, until: datetime.datetime
) -> tuple[datetime.datetime, datetime.datetime]:
    """``[since, until)`` widened to whole UTC months (the coarsest rollup bucket)."""
    start = _month_floor(since)
    end = _month_floor(until)
    if end < until.astimezone(UTC):
        end = (end.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    return start, end


async def rebuild_rollups(
    conn: AsyncConnection[Any], *, since: datetime.datetime, until: datetime.datetime
) -> RebuildResult:
    """Recompute job costs, parts and rollups of the jobs finished in ``[since, until)`` — widened to
    whole UTC months — from raw ``jobs`` + ``llm_calls``, set-based, in one transaction.

    Safe while workers fold: it first locks the parts and rollups tables (waiting for folds in
    flight); a fold that starts meanwhile waits, then folds against the rebuilt parts. Used by tests
    as the independent recomputation, by ``seed-large`` after bulk loading, by operators to repair.
    """
    start, end = month_aligned(since, until)
    try:
        async with conn.transaction():
            jobs, rows = await repo.rebuild(conn, since=start, until=end)
    except psycopg.Error as exc:
        raise interpret_error(exc) from exc
    _log.info("rollups_rebuilt", since=start.isoformat(), until=end.isoformat(), jobs=jobs, rows=rows)
    return RebuildResult(since=start, until=end, jobs=jobs, rollup_rows=rows)


async def verify_rollups(
    conn: AsyncConnection[Any], since: datetime.datetime, until: datetime.datetime
) -> list[RollupDrift]:
    """Stored rollups of ``[since, until)`` (widened to UTC months) that differ from a recomputation
    from raw rows; empty when they agree to the micro-dollar."""
    start, end = month_aligned(since, until)
    try:
        rows = await repo.drift(conn, since=start, until=end)
        global_rows = await repo.global_drift(conn, since=start, until=end)
        team_rows = await repo.team_drift(conn, since=start, until=end)
    except psycopg.Error as exc:
        raise interpret_error(exc) from exc
    drift = [
        _drift("team", r, team_id=str(r.team_id), job_type=r.job_type, model_group=r.model_group)
        for r in rows
    ]
    drift.extend(
        _drift("global", r, team_id=None, job_type=r.job_type, model_group=r.model_group) for r in global_rows
    )
    drift.extend(
        _drift("team_total", r, team_id=str(r.team_id), job_type=None, model_group=None) for r in team_rows
    )
    return drift


def _drift(
    scope: str, row: Any, *, team_id: str | None, job_type: str | None, model_group: str | None
) -> RollupDrift:
    """One drift row of any scope (the drift queries share grain, bucket, expected and stored)."""
    return RollupDrift(
        scope=scope,
        grain=row.grain,
        bucket=row.bucket,
        team_id=team_id,
        job_type=job_type,
        model_group=model_group,
        expected={k: int(v) for k, v in dict(row.expected).items()},
        stored={k: int(v) for k, v in dict(row.stored).items()},
    )


# ------------------------------------------------------------------------------------------ helpers


def margin_bps(margin: int, revenue: int) -> int | None:
    """``margin / revenue`` in basis points, rounded half away from zero; None without revenue."""
    if revenue <= 0:
        return None
    magnitude = (abs(margin) * 20_000 + revenue) // (2 * revenue)
    return magnitude if margin >= 0 else -magnitude


def bps_pct(bps: int | None) -> str | None:
    if bps is None:
        return None
    sign = "-" if bps < 0 else ""
    return f"{sign}{abs(bps) // 100}.{abs(bps) % 100:02d}"


def parse_uuid(value: str | None, name: str) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise InvalidReportQuery(f"{name} must be a UUID") from None


def _margin_row(group: str, r: repo.ReportMarginGroupsRow) -> MarginRow:
    margin = r.revenue_micro_usd - r.cost_micro_usd
    bps = margin_bps(margin, r.revenue_micro_usd)
    return MarginRow(
        group=group,
        jobs=r.jobs,
        completed_jobs=r.completed_jobs,
        failed_jobs=r.failed_jobs,
        expired_jobs=r.expired_jobs,
        calls=r.calls,
        failed_calls=r.failed_calls,
        cache_hit_calls=r.cache_hit_calls,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        cached_tokens=r.cached_tokens,
        cost_micro_usd=r.cost_micro_usd,
        price_credits=r.price_credits,
        revenue_micro_usd=r.revenue_micro_usd,
        margin_micro_usd=margin,
        margin_bps=bps,
        margin_pct=bps_pct(bps),
        avg_duration_ms=r.duration_ms // r.jobs if r.jobs > 0 else None,
    )


def _total(rows: list[repo.ReportMarginGroupsRow]) -> repo.ReportMarginGroupsRow:
    names = [f for f in repo.ReportMarginGroupsRow.__struct_fields__ if f != "group_key"]
    sums = {n: sum(getattr(r, n) for r in rows) for n in names}
    return repo.ReportMarginGroupsRow(group_key="total", **sums)


def _sort_key(sort: str) -> Any:
    fields = {
        "jobs": "jobs",
        "calls": "calls",
        "cost": "cost_micro_usd",
        "price": "price_credits",
        "revenue": "revenue_micro_usd",
        "margin": "margin_micro_usd",
    }
    if sort == "key":
        return lambda row: row.group
    if sort == "margin_pct":
        return lambda row: (row.margin_bps is not None, row.margin_bps or 0, row.group)
    name = fields[sort]
    return lambda row: (getattr(row, name), row.group)


# ----------------------------------------------------------------------------------- margin report


@dataclass(frozen=True, slots=True)
class MarginQuery:
    """A validated margin report request."""

    group_by: str
    range: Range
    team_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    job_type: str | None = None
    model_group: str | None = None
    sort: str = "key"
    descending: bool = False
    offset: int = 0
    limit: int = 100


def margin_query(
    *,
    group_by: str,
    from_: str | None,
    to: str | None,
    tz: str | None,
    team_id: str | None = None,
    organization_id: str | None = None,
    job_type: str | None = None,
    model_group: str | None = None,
    sort: str | None = None,
    order: str | None = None,
    offset: int = 0,
    limit: int = 100,
    now: datetime.datetime | None = None,
) -> MarginQuery:
    if group_by not in GROUPS:
        raise InvalidReportQuery(f"group_by must be one of {', '.join(GROUPS)}")
    sort = sort or "key"
    if sort not in SORTS:
        raise InvalidReportQuery(f"sort must be one of {', '.join(SORTS)}")
    if order not in (None, "asc", "desc"):
        raise InvalidReportQuery("order must be asc or desc")
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise InvalidReportQuery(f"limit must be 1 to {MAX_LIMIT} and offset not negative")
    rng = parse_range(from_, to, tz, now=now or datetime.datetime.now(UTC))
    return MarginQuery(
        group_by=group_by,
        range=rng,
        team_id=parse_uuid(team_id, "team_id"),
        organization_id=parse_uuid(organization_id, "organization_id"),
        job_type=job_type,
        model_group=model_group,
        sort=sort,
        descending=order == "desc" if order else sort != "key",
        offset=offset,
        limit=limit,
    )


async def _margin_rows(conn: AsyncConnection[Any], q: MarginQuery) -> list[repo.ReportMarginGroupsRow]:
    return await repo.margin_groups(
        conn,
        group_by=q.group_by,
        segments=segments(q.range, q.group_by),
        team_id=q.team_id,
        organization_id=q.organization_id,
        job_type=q.job_type,
        model_group=q.model_group,
    )


async def margin_report(pool: Pool, q: MarginQuery, *, paged: bool = True) -> MarginReport:
    """Jobs, calls, cost, price, revenue and margin by ``q.group_by`` over the range (all rows when
    ``paged`` is False: a report has at most one row per group)."""
    async with connection(pool) as conn:
        raw = await _margin_rows(conn, q)
    rows = sorted((_margin_row(r.group_key, r) for r in raw), key=_sort_key(q.sort), reverse=q.descending)
    page = rows[q.offset : q.offset + q.limit] if paged else rows
    return MarginReport(
        group_by=q.group_by,
        tz=q.range.tz.key,
        from_=q.range.since,
        to=q.range.until,
        sort=q.sort,
        order="desc" if q.descending else "asc",
        offset=q.offset if paged else 0,
        limit=q.limit if paged else len(rows),
        total_rows=len(rows),
        totals=_margin_row("total", _total(raw)),
        rows=page,
    )


# ---------------------------------------------------------------------------------- per-job margins


@dataclass(frozen=True, slots=True)
class JobMarginQuery:
    range: Range
    team_id: uuid.UUID | None = None
    organization_id: uuid.UUID | None = None
    job_type: str | None = None
    model_group: str | None = None
    status: str | None = None
    after: tuple[datetime.datetime, uuid.UUID] | None = None
    limit: int = 100


def encode_cursor(finished_at: datetime.datetime, job_id: uuid.UUID) -> str:
    raw = f"{finished_at.isoformat()}|{job_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, ident = raw.partition("|")
        at = datetime.datetime.fromisoformat(stamp)
        if at.tzinfo is None:
            raise ValueError(stamp)
        return at, uuid.UUID(ident)
    except ValueError:
        raise InvalidReportQuery("cursor is not one this report returned") from None


def job_margin_query(
    *,
    from_: str | None,
    to: str | None,
    tz: str | None,
    team_id: str | None = None,
    organization_id: str | None = None,
    job_type: str | None = None,
    model_group: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
    now: datetime.datetime | None = None,
) -> JobMarginQuery:
    if status is not None and status not in STATUSES:
        raise InvalidReportQuery(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidReportQuery(f"limit must be 1 to {MAX_LIMIT}")
    return JobMarginQuery(
        range=parse_range(from_, to, tz, now=now or datetime.datetime.now(UTC)),
        team_id=parse_uuid(team_id, "team_id"),
        organization_id=parse_uuid(organization_id, "organization_id"),
        job_type=job_type,
        model_group=model_group,
        status=status,
        after=decode_cursor(cursor) if cursor else None,
        limit=limit,
    )


def _job_row(r: repo.ReportJobMarginsRow) -> JobMarginRow:
    bps = margin_bps(r.margin_usd_micro, r.price_usd_micro)
    return JobMarginRow(
        job_id=str(r.job_id),
        team_id=str(r.team_id),
        organization_id=str(r.organization_id),
        job_type=r.job_type,
        status=r.status,
        created_at=r.created_at,
        finished_at=r.finished_at,
        duration_ms=(r.finished_at - r.created_at) // datetime.timedelta(milliseconds=1),
        calls=r.calls,
        failed_calls=r.failed_calls,
        prompt_tokens=r.prompt_tokens,
        completion_tokens=r.completion_tokens,
        cached_tokens=r.cached_tokens,
        cost_micro_usd=r.cost_micro_usd,
        price_credits=r.price_credits,
        revenue_micro_usd=r.price_usd_micro,
        margin_micro_usd=r.margin_usd_micro,
        margin_bps=bps,
        margin_pct=bps_pct(bps),
    )


async def _job_page(
    pool: Pool, q: JobMarginQuery, after: tuple[datetime.datetime, uuid.UUID] | None, limit: int
) -> list[repo.ReportJobMarginsRow]:
    async with connection(pool) as conn:
        return await repo.job_margins(
            conn,
            since=q.range.since,
            until=q.range.until,
            team_id=q.team_id,
            organization_id=q.organization_id,
            job_type=q.job_type,
            status=q.status,
            model_group=q.model_group,
            after=after,
            limit=limit,
        )


async def job_margins(pool: Pool, q: JobMarginQuery) -> JobMarginList:
    """One page of finished jobs with cost, price and margin, newest first."""
    rows = await _job_page(pool, q, q.after, q.limit + 1)
    page = rows[: q.limit]
    more = len(rows) > q.limit
    return JobMarginList(
        tz=q.range.tz.key,
        from_=q.range.since,
        to=q.range.until,
        rows=[_job_row(r) for r in page],
        next_cursor=encode_cursor(page[-1].finished_at, page[-1].job_id) if more else None,
    )


async def iter_job_margins(pool: Pool, q: JobMarginQuery) -> AsyncIterator[JobMarginRow]:
    """Every job of the query, in batches of :data:`EXPORT_BATCH` (a pooled connection per batch,
    never all rows in memory): the CSV export's source."""
    after = q.after
    while True:
        rows = await _job_page(pool, q, after, EXPORT_BATCH)
        for r in rows:
            yield _job_row(r)
        if len(rows) < EXPORT_BATCH:
            return
        after = (rows[-1].finished_at, rows[-1].job_id)


async def job_margin_detail(pool: Pool, job_id: uuid.UUID) -> JobMarginDetail:
    """A job's calls, cost, price and margin, and its price allocated per model group."""
    job = await usage.admin_job_detail(pool, job_id)
    async with connection(pool) as conn:
        parts = await repo.parts_of_job(conn, job_id)
    costs = job.costs
    bps = margin_bps(costs.margin_usd_micro, costs.price_usd_micro)
    duration = None
    if job.completed_at is not None:
        duration = (job.completed_at - job.created_at) // datetime.timedelta(milliseconds=1)
    return JobMarginDetail(
        job_id=job.job_id,
        duration_ms=duration,
        cost_micro_usd=costs.cost_micro_usd,
        price_credits=costs.price_credits,
        revenue_micro_usd=costs.price_usd_micro,
        margin_micro_usd=costs.margin_usd_micro,
        margin_bps=bps,
        margin_pct=bps_pct(bps),
        by_model_group=[
            JobPartView(
                model_group=p.model_group,
                primary=p.jobs == 1,
                calls=p.calls,
                failed_calls=p.failed_calls,
                cache_hit_calls=p.cache_hit_calls,
                prompt_tokens=p.prompt_tokens,
                completion_tokens=p.completion_tokens,
                cached_tokens=p.cached_tokens,
                cost_micro_usd=p.cost_micro_usd,
                price_credits=p.price_credits,
                revenue_micro_usd=p.revenue_micro_usd,
                margin_micro_usd=p.revenue_micro_usd - p.cost_micro_usd,
            )
            for p in parts
        ],
        job=job,
    )


# ------------------------------------------------------------------------------- team statement


async def team_statement(pool: Pool, team_id: uuid.UUID, *, month: str, tz: str | None) -> TeamStatement:
    """One team's month: jobs and credits by job type, revenue, cost, margin, ledger movements."""
    rng = month_range(month, tz)
    q = MarginQuery(group_by="job_type", range=rng, team_id=team_id, limit=MAX_LIMIT)
    async with connection(pool) as conn:
        team = await repo.team(conn, team_id)
        if team is None:
            raise TeamNotFound()
        raw = await _margin_rows(conn, q)
        ledger = await repo.ledger_summary(conn, team_id=team_id, since=rng.since, until=rng.until)
        opening = await repo.balance_before(conn, team_id=team_id, at=rng.since)
        closing = await repo.balance_before(conn, team_id=team_id, at=rng.until)
    totals = _margin_row("total", _total(raw))
    return TeamStatement(
        team_id=str(team.team_id),
        team_name=team.team_name,
        organization_id=str(team.organization_id),
        organization_name=team.organization_name,
        month=month,
        tz=rng.tz.key,
        from_=rng.since,
        to=rng.until,
        credits_used=totals.price_credits,
        opening_balance=opening,
        closing_balance=closing,
        totals=totals,
        by_job_type=sorted((_margin_row(r.group_key, r) for r in raw), key=lambda row: row.group),
        ledger=[LedgerLine(kind=r.kind, entries=r.entries, amount=r.amount) for r in ledger],
    )
