"""How the api hands webhook work to the workers (after its transaction committed).

Failures are logged, never raised: the ``deliver_due_webhooks`` sweep delivers anyway.
"""

from __future__ import annotations

import asyncio
import uuid

import structlog

from tollgate_api.webhooks.actors import deliver_due_webhooks, deliver_webhook

_log = structlog.get_logger("tollgate.webhooks")


async def enqueue_due_webhooks() -> None:
    try:
        # Dramatiq's enqueue is a blocking Redis call: keep it off the event loop.
        await asyncio.to_thread(deliver_due_webhooks.send)
    except Exception as exc:  # the scheduled sweep is the safety net
        _log.warning("webhook_enqueue_failed", error=type(exc).__name__)


async def enqueue_delivery(delivery_id: uuid.UUID) -> None:
    try:
        await asyncio.to_thread(deliver_webhook.send, str(delivery_id))
    except Exception as exc:  # the scheduled sweep is the safety net
        _log.warning("webhook_enqueue_failed", delivery_id=str(delivery_id), error=type(exc).__name__)
