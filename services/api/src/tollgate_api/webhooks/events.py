"""Emitting webhook events, outbox style: in the caller's transaction, next to the state change.

``emit_event`` writes the event (its id is the ``Tollgate-Event-Id`` receivers dedupe on) and one
pending delivery per enabled endpoint of the team subscribed to its type. Emitting the same
``(team_id, event, dedupe_key)`` again writes nothing. Nothing is sent here: after the caller commits,
the worker delivers (an enqueue after commit is the fast path, ``deliver_due_webhooks`` the safety net).

Payloads are what teams may see: never a model, provider, token count or cost.
"""

from __future__ import annotations

import uuid
from typing import Any, Final, Literal, get_args

from psycopg import AsyncConnection

from tollgate_api.webhooks import repository as repo

WebhookEvent = Literal["job.completed", "job.failed", "credits.low", "team.suspended"]
EVENT_TYPES: Final[tuple[str, ...]] = get_args(WebhookEvent)
TEST_EVENT: Final = "webhook.test"


async def emit_event(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    event: WebhookEvent,
    payload: dict[str, Any],
    dedupe_key: str,
) -> int:
    """Record ``event`` for ``team_id`` and its pending deliveries in the caller's transaction; the
    number of deliveries written (0 when no endpoint subscribes or the event was already written), so
    the caller enqueues delivery only when there is something to send."""
    if event not in EVENT_TYPES:
        raise ValueError(f"unknown webhook event {event!r}")
    row = await repo.event_insert(conn, team_id=team_id, type=event, dedupe_key=dedupe_key, payload=payload)
    if row is None:
        return 0
    return await repo.deliveries_create_for_event(conn, event=row)
