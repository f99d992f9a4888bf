"""Upkeep actors: params in, one idempotent service call, log context bound per message.

All on queue ``upkeep`` (kept apart from ``aggregation`` so a slow reconciliation never delays
margins). :mod:`tollgate_api.worker.schedule` says when each runs; each can also be sent by hand.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from typing import Final

import structlog

from tollgate_api.upkeep import service as upkeep
from tollgate_api.upkeep.settings import UpkeepSettings
from tollgate_api.worker.broker import actor, current_broker, current_settings
from tollgate_common.env import Env

UPKEEP_QUEUE: Final = "upkeep"
AGGREGATE_ACTOR: Final = "aggregate_job"
_log = structlog.get_logger("tollgate.upkeep")


def _bind(name: str, **context: object) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(actor=name, **context)


async def _enqueue_aggregation(job_id: uuid.UUID) -> None:
    # By name: worker.actors (which declares aggregate_job) imports this module.
    await asyncio.to_thread(current_broker().get_actor(AGGREGATE_ACTOR).send, str(job_id))


def _settings() -> UpkeepSettings:
    return UpkeepSettings.from_env(Env())


@actor(queue_name=UPKEEP_QUEUE, max_retries=3, time_limit_ms=120_000, min_backoff=1_000, max_backoff=30_000)
async def expire_jobs() -> None:
    """Expire open jobs past their TTL and release their holds (their aggregation is enqueued)."""
    _bind("expire_jobs")
    async with upkeep.open_pool(current_settings()) as pool:
        expired = await upkeep.expire_jobs(pool, upkeep.utc_now(), enqueue=_enqueue_aggregation)
    if expired:
        _log.info("jobs_expired", jobs=expired)


@actor(queue_name=UPKEEP_QUEUE, max_retries=3, time_limit_ms=120_000, min_backoff=1_000, max_backoff=30_000)
async def alert_low_credits() -> None:
    """``credits.low`` once per crossing below the threshold (row + webhook event, one transaction)."""
    _bind("alert_low_credits")
    async with upkeep.open_pool(current_settings()) as pool:
        result = await upkeep.raise_credit_alerts(pool, default_threshold=_settings().low_credit_threshold)
    if result.raised or result.cleared:
        _log.info("credit_alerts", raised=result.raised, cleared=result.cleared)


@actor(queue_name=UPKEEP_QUEUE, max_retries=3, time_limit_ms=120_000, min_backoff=1_000, max_backoff=30_000)
async def alert_budgets() -> None:
    """Budget alerts (80 % / 100 % of a router key's budget in its period), once per crossing; the
    router is read before anything is written, so an unreachable router fails the message cleanly."""
    _bind("alert_budgets")
    settings = current_settings()
    async with upkeep.open_pool(settings) as pool, upkeep.open_router_admin(settings) as router:
        result = await upkeep.raise_budget_alerts(pool, router)
    if result.raised or result.cleared:
        _log.info("budget_alerts", raised=result.raised, cleared=result.cleared)


@actor(queue_name=UPKEEP_QUEUE, max_retries=5, time_limit_ms=600_000, min_backoff=5_000, max_backoff=300_000)
async def expire_credit_grants() -> None:
    """Expire the unused remainder of every grant past its ``expires_at``."""
    _bind("expire_credit_grants")
    async with upkeep.open_pool(current_settings()) as pool:
        await upkeep.expire_grants(pool, upkeep.utc_now())


@actor(queue_name=UPKEEP_QUEUE, max_retries=5, time_limit_ms=600_000, min_backoff=5_000, max_backoff=300_000)
async def purge_retention() -> None:
    """Null stored prompt/response text past ``retain_until``."""
    _bind("purge_retention")
    settings = _settings()
    async with upkeep.open_pool(current_settings()) as pool:
        await upkeep.purge_retention(
            pool, upkeep.utc_now(), batch=settings.retention_batch, max_batches=settings.retention_max_batches
        )


@actor(
    queue_name=UPKEEP_QUEUE, max_retries=5, time_limit_ms=1_800_000, min_backoff=30_000, max_backoff=900_000
)
async def reconcile_spend(from_day: str | None = None, to_day: str | None = None) -> None:
    """Reconcile router spend with llm_calls for ``from_day``..``to_day`` (ISO dates, UTC, inclusive);
    without them, the last ``TOLLGATE_UPKEEP_RECONCILE_DAYS`` complete days (the daily schedule)."""
    _bind("reconcile_spend", from_day=from_day, to_day=to_day)
    trigger: upkeep.Trigger = "manual"
    if from_day and to_day:
        start, end = datetime.date.fromisoformat(from_day), datetime.date.fromisoformat(to_day)
    else:
        start, end = upkeep.reconcile_window(upkeep.utc_now().date(), _settings().reconcile_days)
        trigger = "schedule"
    settings = current_settings()
    async with upkeep.open_pool(settings) as pool, upkeep.open_router_admin(settings) as router:
        await upkeep.reconcile(pool, router, from_day=start, to_day=end, trigger=trigger)


@actor(queue_name=UPKEEP_QUEUE, max_retries=5, time_limit_ms=600_000, min_backoff=5_000, max_backoff=300_000)
async def maintain_partitions() -> None:
    """Create the coming months' llm_calls partitions (and move strays out of DEFAULT)."""
    _bind("maintain_partitions")
    async with upkeep.open_pool(current_settings()) as pool:
        await upkeep.maintain_partitions(pool, months_ahead=_settings().partition_months_ahead)
