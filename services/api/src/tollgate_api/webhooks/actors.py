"""Webhook actors (queue ``webhooks``): ids in, one idempotent service call, context bound for logs.

``deliver_webhook(delivery_id)`` makes one attempt if the delivery is due and unclaimed, and on
failure re-sends itself with a delay until the next attempt is due. ``deliver_due_webhooks()`` is
the sweep: it enqueues every due delivery, so a lost enqueue or a restart only delays delivery
(run it on a schedule; the api also sends it after a commit that wrote deliveries).
"""

from __future__ import annotations

import datetime
import uuid

import structlog

from tollgate_api.auth.keyring import keyring_from_settings
from tollgate_api.webhooks import delivery
from tollgate_api.worker.broker import actor
from tollgate_api.worker.services import provide_services

WEBHOOKS_QUEUE = "webhooks"


@actor(queue_name=WEBHOOKS_QUEUE, max_retries=5, time_limit_ms=120_000, min_backoff=1_000, max_backoff=60_000)
async def deliver_webhook(delivery_id: str) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(delivery_id=delivery_id, actor="deliver_webhook")
    async with provide_services() as services:
        outcome = await delivery.deliver(
            services.conn,
            keyring_from_settings(services.settings.auth),
            services.settings.webhooks,
            uuid.UUID(delivery_id),
        )
    if outcome.retry_at is not None:
        wait = outcome.retry_at - datetime.datetime.now(datetime.UTC)
        deliver_webhook.send_with_options(args=(delivery_id,), delay=max(0, int(wait.total_seconds() * 1000)))


@actor(queue_name=WEBHOOKS_QUEUE, max_retries=0, time_limit_ms=60_000)
async def deliver_due_webhooks(limit: int = 500) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(actor="deliver_due_webhooks")
    async with provide_services() as services:
        due = await delivery.due_deliveries(services.conn, limit=limit)
    for delivery_id in due:
        deliver_webhook.send(str(delivery_id))
