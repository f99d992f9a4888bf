"""How the api hands work to the workers (after its transaction committed)."""

from __future__ import annotations

import asyncio
import uuid

from tollgate_api.worker.actors import aggregate_job


async def enqueue_aggregation(job_id: uuid.UUID) -> None:
    # Dramatiq's enqueue is a blocking Redis call: keep it off the event loop.
    await asyncio.to_thread(aggregate_job.send, str(job_id))
