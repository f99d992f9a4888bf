"""Dramatiq actors of tollgate-api. Thin: ids in, one idempotent service call, context bound for logs.

``aggregate_job(job_id)`` — queue ``aggregation`` — writes ``api.job_costs`` for a finished job
(UPSERT: running it twice leaves the same state) and marks its outbox row processed.
``sweep_job_outbox()`` re-enqueues aggregations whose outbox row stayed unprocessed (lost enqueue).
"""

from __future__ import annotations

import datetime
import uuid

import structlog

from tollgate_api.upkeep import actors as upkeep_actors  # noqa: F401 - declares the upkeep queue's actors
from tollgate_api.usage import service as usage
from tollgate_api.webhooks import actors as webhook_actors  # noqa: F401 - declares the webhooks queue's actors
from tollgate_api.worker.broker import actor
from tollgate_api.worker.services import provide_services

AGGREGATION_QUEUE = "aggregation"


@actor(
    queue_name=AGGREGATION_QUEUE, max_retries=10, time_limit_ms=60_000, min_backoff=500, max_backoff=60_000
)
async def aggregate_job(job_id: str) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job_id=job_id, actor="aggregate_job")
    async with provide_services() as services:
        await usage.aggregate_job(services.conn, uuid.UUID(job_id))


@actor(queue_name=AGGREGATION_QUEUE, max_retries=3, time_limit_ms=120_000)
async def sweep_job_outbox(older_than_s: int = 60) -> None:
    """Safety net for lost enqueues: re-enqueue ``aggregate_job`` for finished jobs whose outbox row
    is still unprocessed after ``older_than_s`` (the schedule that runs it comes with the worker issue)."""
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(actor="sweep_job_outbox")
    async with provide_services() as services:
        cutoff = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=older_than_s)
        job_ids = await usage.pending_aggregations(services.conn, older_than=cutoff)
    for job_id in job_ids:
        aggregate_job.send(str(job_id))
