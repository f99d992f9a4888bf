"""The only caller of the generated SQL for ``api.webhook_*``.

Every function takes the caller's connection, so the service (or the emitting domain, for
:func:`tollgate_api.webhooks.events.emit_event`) decides the transaction. Driver errors are mapped by
``tollgate_common.db.transaction`` / ``connection``.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import webhooks as sql
from tollgate_api.db.models import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEvent,
)

Conn = AsyncConnection[Any]
DeliveryView = sql.WebhookDeliveryListByEndpointRow

__all__ = [
    "DeliveryView",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
    "WebhookEvent",
]


# ------------------------------------------------------------------------------------------ endpoints


async def endpoint_create(
    conn: Conn,
    *,
    id: uuid.UUID,
    team_id: uuid.UUID,
    url: str,
    events: list[str],
    secret_encrypted: str,
    secret_hint: str,
    description: str,
    enabled: bool,
    created_by: str,
) -> WebhookEndpoint:
    row = await sql.webhook_endpoint_create(
        conn,
        id=id,
        team_id=team_id,
        url=url,
        events=events,
        secret_encrypted=secret_encrypted,
        secret_hint=secret_hint,
        description=description,
        enabled=enabled,
        created_by=created_by,
    )
    assert row is not None
    return row


async def endpoint_count(conn: Conn, team_id: uuid.UUID) -> int:
    row = await sql.webhook_endpoint_count_by_team(conn, team_id=team_id)
    return row.n if row else 0


async def endpoint_get(conn: Conn, *, team_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    return await sql.webhook_endpoint_get(conn, id=endpoint_id, team_id=team_id)


async def endpoint_get_by_id(conn: Conn, endpoint_id: uuid.UUID) -> WebhookEndpoint | None:
    return await sql.webhook_endpoint_get_by_id(conn, id=endpoint_id)


async def endpoint_list(conn: Conn, team_id: uuid.UUID) -> list[WebhookEndpoint]:
    return await sql.webhook_endpoint_list_by_team(conn, team_id=team_id)


async def endpoint_update(
    conn: Conn,
    *,
    team_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    url: str,
    events: list[str],
    description: str,
    enabled: bool,
) -> WebhookEndpoint | None:
    return await sql.webhook_endpoint_update(
        conn,
        url=url,
        events=events,
        description=description,
        enabled=enabled,
        id=endpoint_id,
        team_id=team_id,
    )


async def endpoint_rotate_secret(
    conn: Conn,
    *,
    team_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    secret_encrypted: str,
    secret_hint: str,
    previous_expires_at: datetime.datetime,
) -> WebhookEndpoint | None:
    return await sql.webhook_endpoint_rotate_secret(
        conn,
        previous_expires_at=previous_expires_at,
        secret_encrypted=secret_encrypted,
        secret_hint=secret_hint,
        id=endpoint_id,
        team_id=team_id,
    )


async def endpoint_delete(conn: Conn, *, team_id: uuid.UUID, endpoint_id: uuid.UUID) -> bool:
    return await sql.webhook_endpoint_delete(conn, id=endpoint_id, team_id=team_id) > 0


# ------------------------------------------------------------------------------------------ events


async def event_insert(
    conn: Conn, *, team_id: uuid.UUID, type: str, dedupe_key: str, payload: dict[str, Any]
) -> WebhookEvent | None:
    """The new event, or None when (team, type, dedupe_key) was already written."""
    return await sql.webhook_event_insert(
        conn, id=uuid.uuid4(), team_id=team_id, type=type, dedupe_key=dedupe_key, payload=payload
    )


async def event_get(conn: Conn, event_id: uuid.UUID) -> WebhookEvent | None:
    return await sql.webhook_event_get(conn, id=event_id)


# ------------------------------------------------------------------------------------------ deliveries


async def deliveries_create_for_event(conn: Conn, *, event: WebhookEvent) -> int:
    return await sql.webhook_deliveries_create_for_event(
        conn, event_id=event.id, team_id=event.team_id, type=event.type
    )


async def delivery_create(conn: Conn, *, event: WebhookEvent, endpoint_id: uuid.UUID) -> WebhookDelivery:
    row = await sql.webhook_delivery_create(
        conn, id=uuid.uuid4(), event_id=event.id, endpoint_id=endpoint_id, team_id=event.team_id
    )
    assert row is not None
    return row


async def delivery_get(conn: Conn, delivery_id: uuid.UUID) -> WebhookDelivery | None:
    return await sql.webhook_delivery_get(conn, id=delivery_id)


async def delivery_claim(
    conn: Conn, *, delivery_id: uuid.UUID, now: datetime.datetime, claimed_until: datetime.datetime
) -> WebhookDelivery | None:
    return await sql.webhook_delivery_claim(conn, claimed_until=claimed_until, id=delivery_id, now=now)


async def delivery_record(
    conn: Conn,
    *,
    delivery_id: uuid.UUID,
    status: WebhookDeliveryStatus,
    next_attempt_at: datetime.datetime,
    last_status_code: int | None,
    last_error: str | None,
) -> None:
    await sql.webhook_delivery_record(
        conn,
        status=status,
        next_attempt_at=next_attempt_at,
        last_status_code=last_status_code,
        last_error=last_error,
        id=delivery_id,
    )


async def deliveries_due(conn: Conn, *, now: datetime.datetime, limit: int) -> list[uuid.UUID]:
    rows = await sql.webhook_delivery_list_due(conn, now=now, lim=limit)
    return [row.id for row in rows]


async def deliveries_for_endpoint(
    conn: Conn,
    *,
    team_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    status: WebhookDeliveryStatus | None,
    limit: int,
) -> list[DeliveryView]:
    return await sql.webhook_delivery_list_by_endpoint(
        conn, endpoint_id=endpoint_id, team_id=team_id, status=status, lim=limit
    )


async def delivery_for_team(
    conn: Conn, *, team_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> sql.WebhookDeliveryGetForTeamRow | None:
    return await sql.webhook_delivery_get_for_team(
        conn, id=delivery_id, endpoint_id=endpoint_id, team_id=team_id
    )


# ------------------------------------------------------------------------------------------ attempts


async def attempt_insert(
    conn: Conn,
    *,
    delivery_id: uuid.UUID,
    attempted_at: datetime.datetime,
    status_code: int | None,
    duration_ms: int,
    error: str | None,
) -> None:
    await sql.webhook_attempt_insert(
        conn,
        delivery_id=delivery_id,
        attempted_at=attempted_at,
        status_code=status_code,
        duration_ms=duration_ms,
        error=error,
    )


async def attempts_for_delivery(conn: Conn, delivery_id: uuid.UUID) -> list[WebhookAttempt]:
    return await sql.webhook_attempt_list_by_delivery(conn, delivery_id=delivery_id)


# ------------------------------------------------------------------------------------------ teams


async def team_lock(conn: Conn, team_id: uuid.UUID) -> bool:
    """Lock the team's row for this transaction; False when there is no such team."""
    return await sql.webhook_team_lock(conn, team_id=team_id) is not None
