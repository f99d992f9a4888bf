"""Scheduled upkeep, every function safe to run twice (or from two workers at once).

=====================  ==============================================================================
expire_jobs            open jobs past their TTL are expired and their holds released (SKIP LOCKED)
raise_credit_alerts    one ``credits.low`` alert (row + webhook event) per crossing below the threshold;
                       an alert clears (and re-arms) once available credits are back at the threshold
raise_budget_alerts    one budget alert (row + ``budget_alert`` log line, no webhook: teams never learn
                       spend) per crossing of 80 % / 100 % of a router key's budget in its period;
                       clears (and re-arms) when the period rolls over or spend drops back under
expire_grants          a due grant's unused remainder leaves the balance (one keyed ``expiry`` entry)
purge_retention        stored prompt/response text past ``retain_until`` is nulled, in batches
reconcile              router spend log vs api.llm_calls per virtual key and UTC day; one row per
                       (team, day), overwritten by a re-run; a run row per run
maintain_partitions    llm_calls partitions for the coming months exist
=====================  ==============================================================================
"""

from __future__ import annotations

import contextlib
import datetime
import urllib.parse
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Final, Literal

import msgspec
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.credits import grants
from tollgate_api.errors import BadRequest, RouterUnavailable, TollgateError
from tollgate_api.jobs import service as jobs
from tollgate_api.routeradmin.client import RouterAdmin
from tollgate_api.settings import ApiSettings
from tollgate_api.upkeep import repository as repo
from tollgate_api.upkeep.errors import ReconciliationRunNotFound
from tollgate_api.upkeep.schemas import (
    AlertKind,
    AlertOut,
    AlertsResult,
    DriftOut,
    ExpiredGrantOut,
    RunOut,
)
from tollgate_api.usage.partitions import ensure_llm_call_partitions
from tollgate_api.webhooks.events import emit_event
from tollgate_common.db import connection, make_pool, transaction

_log = structlog.get_logger("tollgate.upkeep")

Pool = AsyncConnectionPool[AsyncConnection[Any]]
Trigger = Literal["schedule", "manual"]
MAX_RECONCILE_DAYS: Final = 31
EXPIRE_JOBS_BATCH: Final = 500
EXPIRE_JOBS_MAX_BATCHES: Final = 20
BUDGET_THRESHOLDS_PCT: Final = (80, 100)


@asynccontextmanager
async def open_pool(settings: ApiSettings) -> AsyncIterator[Pool]:
    """A small pool for one actor message (actors run on Dramatiq's loop, not the api's)."""
    pool = make_pool(settings.database.url, min_size=1, max_size=2, name="upkeep")
    await pool.open(wait=True, timeout=10)
    try:
        yield pool
    finally:
        await pool.close()


@asynccontextmanager
async def open_router_admin(settings: ApiSettings) -> AsyncIterator[RouterAdmin]:
    router = RouterAdmin.from_settings(settings.router)
    try:
        yield router
    finally:
        await router.aclose()


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


# ----------------------------------------------------------------------------- jobs


async def expire_jobs(
    pool: Pool, now: datetime.datetime, *, enqueue: Callable[[uuid.UUID], Awaitable[None]] | None
) -> int:
    """Expire jobs past their TTL, batch after batch (bounded); returns how many were expired."""
    total = 0
    for _ in range(EXPIRE_JOBS_MAX_BATCHES):
        expired = await jobs.expire_due_jobs(pool, now, limit=EXPIRE_JOBS_BATCH, enqueue=enqueue)
        total += expired
        if expired < EXPIRE_JOBS_BATCH:
            break
    return total


# ----------------------------------------------------------------------------- low-credit alerts


async def raise_credit_alerts(pool: Pool, *, default_threshold: int, limit: int = 1000) -> AlertsResult:
    """Clear alerts of teams back above their threshold, then raise one for each team newly below it.

    An alert is raised at most once per crossing: the open alert (unique per team) blocks the next
    runs until it clears. The alert row and its ``credits.low`` webhook event commit together.
    """
    async with transaction(pool) as conn:
        cleared = await repo.alert_clear_recovered(conn, default_threshold=default_threshold)
    async with connection(pool) as conn:
        candidates = await repo.alert_candidates(conn, default_threshold=default_threshold, limit=limit)
    raised = 0
    for candidate in candidates:
        async with transaction(pool) as conn:
            alert = await repo.alert_raise(
                conn, team_id=candidate.team_id, threshold=candidate.threshold, available=candidate.available
            )
            if alert is None:  # another worker raised it first
                continue
            await emit_event(
                conn,
                team_id=candidate.team_id,
                event="credits.low",
                payload={
                    "team_id": str(candidate.team_id),
                    "available": candidate.available,
                    "threshold": candidate.threshold,
                    "raised_at": alert.raised_at.isoformat(),
                },
                dedupe_key=f"credits.low:{alert.id}",
            )
        raised += 1
        _log.info("credits_low", team_id=str(candidate.team_id), available=candidate.available)
    return AlertsResult(raised=raised, cleared=cleared)


# ----------------------------------------------------------------------------- budget alerts


class _KeyBudget(msgspec.Struct):
    """A row of the router's ``GET /admin/keys/budgets``."""

    key_id: uuid.UUID
    budget_micro_usd: int
    budget_period: str
    period_start: datetime.datetime | None
    period_spend_micro_usd: int


async def _router_key_budgets(router: RouterAdmin) -> list[_KeyBudget]:
    answer = await router.forward("GET", "/admin/keys/budgets")
    if answer.status != 200:
        raise RouterUnavailable("The router's key budgets are unavailable.")
    try:
        return msgspec.json.decode(answer.body, type=list[_KeyBudget])
    except msgspec.ValidationError as exc:
        raise RouterUnavailable("The router's key budgets could not be read.") from exc


def crossed_thresholds(*, spend_micro_usd: int, budget_micro_usd: int) -> tuple[int, ...]:
    """The alert thresholds (percent of the budget) that ``spend`` has reached; integers only.

    A zero budget (the key may spend nothing) raises nothing: it is a switch, not a budget to watch.
    """
    if budget_micro_usd <= 0:
        return ()
    return tuple(p for p in BUDGET_THRESHOLDS_PCT if spend_micro_usd * 100 >= budget_micro_usd * p)


async def raise_budget_alerts(pool: Pool, router: RouterAdmin) -> AlertsResult:
    """Compare each team's router key spend with its budget and record one alert per crossing.

    The router is read first and in one call, so a router that cannot answer fails the run before
    anything is written (the actor retries). Then, in one transaction: open alerts whose period
    rolled over, whose threshold is no longer reached or whose key lost its budget are cleared (which
    re-arms them), and an alert is raised for every threshold reached without an open one. The open
    alert is unique per (team, threshold), so a second run, or two workers at once, change nothing.
    """
    budgets = await _router_key_budgets(router)
    async with connection(pool) as conn:
        keys = await repo.team_keys(conn)
    team_of_key = {k.router_key_id: k.team_id for k in keys}
    current: dict[uuid.UUID, tuple[str, _KeyBudget]] = {}
    for budget in budgets:
        team_id = team_of_key.get(str(budget.key_id))
        if team_id is not None:
            current[team_id] = (str(budget.key_id), budget)

    raised: list[repo.BudgetAlert] = []
    async with transaction(pool) as conn:
        stale: list[int] = []
        still_open: set[tuple[uuid.UUID, int]] = set()
        for alert in await repo.budget_alerts_open(conn):
            entry = current.get(alert.team_id)
            if (
                entry is None
                or entry[0] != alert.router_key_id
                or entry[1].budget_period != alert.budget_period
                or entry[1].period_start != alert.period_start
                or alert.threshold_pct
                not in crossed_thresholds(
                    spend_micro_usd=entry[1].period_spend_micro_usd,
                    budget_micro_usd=entry[1].budget_micro_usd,
                )
            ):
                stale.append(alert.id)
            else:
                still_open.add((alert.team_id, alert.threshold_pct))
        cleared = await repo.budget_alerts_clear(conn, ids=stale) if stale else 0
        for team_id in sorted(current):
            key_id, b = current[team_id]
            for pct in crossed_thresholds(
                spend_micro_usd=b.period_spend_micro_usd, budget_micro_usd=b.budget_micro_usd
            ):
                if (team_id, pct) in still_open:
                    continue
                new = await repo.budget_alert_raise(
                    conn,
                    team_id=team_id,
                    router_key_id=key_id,
                    threshold_pct=pct,
                    budget_micro_usd=b.budget_micro_usd,
                    spend_micro_usd=b.period_spend_micro_usd,
                    budget_period=b.budget_period,
                    period_start=b.period_start,
                )
                if new is not None:  # None: another worker raised it first
                    raised.append(new)
    for alert in raised:  # logged once committed
        _log.warning(
            "budget_alert",
            alert_id=alert.id,
            team_id=str(alert.team_id),
            threshold_pct=alert.threshold_pct,
            spend_micro_usd=alert.spend_micro_usd,
            budget_micro_usd=alert.budget_micro_usd,
            budget_period=alert.budget_period,
        )
    return AlertsResult(raised=len(raised), cleared=cleared)


def _credit_alert_out(row: repo.CreditAlertListRow) -> AlertOut:
    return AlertOut(
        kind="credits.low",
        id=row.id,
        team_id=row.team_id,
        team_name=row.team_name,
        threshold=row.threshold,
        open=row.cleared_at is None,
        raised_at=row.raised_at,
        cleared_at=row.cleared_at,
        available=row.available,
    )


def _budget_alert_out(row: repo.BudgetAlertListRow) -> AlertOut:
    return AlertOut(
        kind="budget",
        id=row.id,
        team_id=row.team_id,
        team_name=row.team_name,
        threshold=row.threshold_pct,
        open=row.cleared_at is None,
        raised_at=row.raised_at,
        cleared_at=row.cleared_at,
        budget_micro_usd=row.budget_micro_usd,
        spend_micro_usd=row.spend_micro_usd,
        budget_period=row.budget_period,
        period_start=row.period_start,
    )


async def list_alerts(
    pool: Pool, *, team_id: uuid.UUID | None, kind: AlertKind | None, open_only: bool, limit: int
) -> list[AlertOut]:
    """Low-credit and budget alerts, newest first (at most ``limit`` in all)."""
    out: list[AlertOut] = []
    async with connection(pool) as conn:
        if kind in (None, "credits.low"):
            rows = await repo.credit_alert_list(conn, team_id=team_id, open_only=open_only, limit=limit)
            out.extend(_credit_alert_out(r) for r in rows)
        if kind in (None, "budget"):
            budget_rows = await repo.budget_alert_list(
                conn, team_id=team_id, open_only=open_only, limit=limit
            )
            out.extend(_budget_alert_out(r) for r in budget_rows)
    out.sort(key=lambda a: (a.raised_at, a.kind, a.id), reverse=True)
    return out[:limit]


# ----------------------------------------------------------------------------- credit grants


async def expire_grants(pool: Pool, now: datetime.datetime) -> list[ExpiredGrantOut]:
    expired = await grants.expire_due_grants(pool, now)
    return [
        ExpiredGrantOut(
            ledger_entry_id=g.ledger_entry_id,
            team_id=g.team_id,
            amount=g.amount,
            remainder=g.remainder,
            expired_amount=g.expired_amount,
        )
        for g in expired
    ]


# ----------------------------------------------------------------------------- retention


async def purge_retention(pool: Pool, now: datetime.datetime, *, batch: int, max_batches: int) -> int:
    """Null stored prompt/response text whose ``retain_until`` passed; each batch commits alone."""
    total = 0
    async with connection(pool) as conn:
        for _ in range(max_batches):
            purged = await repo.purge_retention_batch(conn, now=now, batch=batch)
            total += purged
            if purged < batch:
                break
    if total:
        _log.info("retention_purged", rows=total)
    return total


# ----------------------------------------------------------------------------- partitions


async def maintain_partitions(pool: Pool, *, months_ahead: int) -> list[str]:
    async with connection(pool) as conn:
        return await ensure_llm_call_partitions(conn, months_ahead=months_ahead)


# ----------------------------------------------------------------------------- reconciliation


class _SpendRow(msgspec.Struct):
    requests: int
    cost_micro_usd: int
    key_id: str | None = None


class _SpendReport(msgspec.Struct):
    rows: list[_SpendRow]


def _day_start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)


def reconcile_window(today: datetime.date, days: int) -> tuple[datetime.date, datetime.date]:
    """The scheduled run's days: the ``days`` complete UTC days before ``today``."""
    return today - datetime.timedelta(days=days), today - datetime.timedelta(days=1)


async def _router_spend_by_key(router: RouterAdmin, day: datetime.date) -> list[_SpendRow]:
    start = _day_start(day)
    query = urllib.parse.urlencode(
        {
            "group_by": "key",
            "from": start.isoformat(),
            "to": (start + datetime.timedelta(days=1)).isoformat(),
        }
    )
    answer = await router.forward("GET", "/admin/spend", query=query)
    if answer.status != 200:
        raise RouterUnavailable("The router's spend report is unavailable.")
    return msgspec.json.decode(answer.body, type=_SpendReport).rows


async def reconcile(
    pool: Pool,
    router: RouterAdmin,
    *,
    from_day: datetime.date,
    to_day: datetime.date,
    trigger: Trigger,
) -> RunOut:
    """Compare the router's spend per virtual key and UTC day with the api's llm_calls of its team.

    Records one drift row per (team, day) with any spend on either side (drift = router - api,
    micro-USD), replacing the previous comparison of that (team, day): running it twice leaves the
    same rows. Days straddle nothing: both sides count a call on the UTC day it was recorded.
    """
    if from_day > to_day:
        raise BadRequest("from_day must not be after to_day.")
    if (to_day - from_day).days + 1 > MAX_RECONCILE_DAYS:
        raise BadRequest(f"A reconciliation covers at most {MAX_RECONCILE_DAYS} days.")
    async with connection(pool) as conn:
        run = await repo.run_start(conn, trigger=trigger, from_day=from_day, to_day=to_day)
    try:
        async with connection(pool) as conn:
            keys = await repo.team_keys(conn)
            api_rows = await repo.api_spend(
                conn, from_at=_day_start(from_day), to_at=_day_start(to_day + datetime.timedelta(days=1))
            )
        team_of_key = {k.router_key_id: k.team_id for k in keys}
        key_of_team = {k.team_id: k.router_key_id for k in keys}
        router_side: dict[tuple[uuid.UUID, datetime.date], tuple[int, int]] = {}
        unmatched = 0
        day = from_day
        while day <= to_day:
            for row in await _router_spend_by_key(router, day):
                team_id = team_of_key.get(row.key_id or "")
                if team_id is None:
                    unmatched += 1
                    continue
                router_side[(team_id, day)] = (row.requests, row.cost_micro_usd)
            day += datetime.timedelta(days=1)
        api_side = {(r.team_id, r.day): (r.calls, r.cost_micro_usd) for r in api_rows}
        drifted = 0
        total_abs = 0
        pairs = sorted(
            (p for p in set(router_side) | set(api_side) if p[0] in key_of_team), key=lambda p: (p[1], p[0])
        )
        async with transaction(pool) as conn:
            for team_id, on_day in pairs:
                router_requests, router_cost = router_side.get((team_id, on_day), (0, 0))
                api_calls, api_cost = api_side.get((team_id, on_day), (0, 0))
                await repo.drift_upsert(
                    conn,
                    team_id=team_id,
                    day=on_day,
                    router_key_id=key_of_team[team_id],
                    run_id=run.id,
                    router_requests=router_requests,
                    router_cost_micro_usd=router_cost,
                    api_calls=api_calls,
                    api_cost_micro_usd=api_cost,
                )
                if router_cost != api_cost:
                    drifted += 1
                    total_abs += abs(router_cost - api_cost)
                    _log.warning(
                        "spend_drift",
                        team_id=str(team_id),
                        day=on_day.isoformat(),
                        router_cost_micro_usd=router_cost,
                        api_cost_micro_usd=api_cost,
                    )
        if unmatched:
            _log.info("reconciliation_unmatched_router_keys", rows=unmatched)
        async with connection(pool) as conn:
            finished = await repo.run_finish(
                conn,
                run_id=run.id,
                status="succeeded",
                keys_checked=len({p[0] for p in pairs}),
                drifted=drifted,
                total_abs_drift_micro_usd=total_abs,
                error=None,
            )
    except Exception as exc:
        _log.warning("reconciliation_failed", run_id=run.id, error=type(exc).__name__)
        with contextlib.suppress(TollgateError):  # the database may be what failed: keep the first error
            async with connection(pool) as conn:
                await repo.run_finish(
                    conn,
                    run_id=run.id,
                    status="failed",
                    keys_checked=0,
                    drifted=0,
                    total_abs_drift_micro_usd=0,
                    error=type(exc).__name__,
                )
        raise
    assert finished is not None
    _log.info(
        "reconciliation_finished", run_id=finished.id, drifted=drifted, total_abs_drift_micro_usd=total_abs
    )
    return RunOut(**msgspec.structs.asdict(finished))


async def list_runs(pool: Pool, *, before_id: int | None, limit: int) -> list[RunOut]:
    async with connection(pool) as conn:
        rows = await repo.run_list(conn, before_id=before_id, limit=limit)
    return [RunOut(**msgspec.structs.asdict(r)) for r in rows]


async def get_run(pool: Pool, run_id: int) -> RunOut:
    async with connection(pool) as conn:
        row = await repo.run_get(conn, run_id=run_id)
    if row is None:
        raise ReconciliationRunNotFound()
    return RunOut(**msgspec.structs.asdict(row))


async def list_drift(
    pool: Pool,
    *,
    from_day: datetime.date,
    to_day: datetime.date,
    team_id: uuid.UUID | None,
    only_drift: bool,
    limit: int,
) -> list[DriftOut]:
    if from_day > to_day:
        raise BadRequest("from_day must not be after to_day.")
    async with connection(pool) as conn:
        rows = await repo.drift_list(
            conn, from_day=from_day, to_day=to_day, team_id=team_id, only_drift=only_drift, limit=limit
        )
    return [DriftOut(**msgspec.structs.asdict(r)) for r in rows]
