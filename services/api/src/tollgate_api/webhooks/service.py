"""Webhook endpoints: register, read, change, rotate the secret, delete; deliveries and attempts.

Every function is scoped to one team (the key's team on ``/api``, the path's team on ``/admin``);
another team's endpoint is "not found". The signing secret is AES-GCM encrypted with the api keyring
(we must sign with it, so it cannot be hashed) and shown once, at create and at rotation.
"""

from __future__ import annotations

import datetime
import ipaddress
import urllib.parse
import uuid
from typing import Any, Final

import msgspec
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.auth.keyring import require_keyring
from tollgate_api.errors import BadRequest, TeamNotFound
from tollgate_api.settings import WebhookSettings
from tollgate_api.webhooks import repository as repo
from tollgate_api.webhooks import signing
from tollgate_api.webhooks.errors import InvalidWebhookUrl, WebhookLimitReached, WebhookNotFound
from tollgate_api.webhooks.events import EVENT_TYPES, TEST_EVENT
from tollgate_api.webhooks.schemas import (
    AttemptOut,
    DeliveryDetail,
    DeliveryOut,
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    RotateSecretIn,
    SecretRotated,
    TestEventSent,
)
from tollgate_common.crypto import Keyring, key_hint
from tollgate_common.db import connection, transaction

_log = structlog.get_logger("tollgate.webhooks")

Pool = AsyncConnectionPool[AsyncConnection[Any]]
MAX_PAGE: Final = 200
_LOCAL_NAMES: Final = ("localhost", "localhost.localdomain")


# ------------------------------------------------------------------------------------------ validation


def validate_url(url: str, *, allow_http: bool) -> str:
    """https with a public host; ``allow_http`` (dev, tests) also admits http and loopback/private hosts.

    The host is checked as written (names are not resolved here)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidWebhookUrl("The URL cannot be parsed.") from None
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in allowed:
        raise InvalidWebhookUrl("The URL must use https." if not allow_http else "The URL must use http(s).")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise InvalidWebhookUrl("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl("The URL may not carry credentials.")
    if parts.fragment:
        raise InvalidWebhookUrl("The URL may not carry a fragment.")
    if port == 0:
        raise InvalidWebhookUrl("The URL's port is not valid.")
    if not allow_http and _is_local(host):
        raise InvalidWebhookUrl("The URL's host is not publicly reachable.")
    return parts.geturl()


def _is_local(host: str) -> bool:
    if host in _LOCAL_NAMES or host.endswith(".localhost") or host.endswith(".internal"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not ip.is_global


def validate_events(events: list[str]) -> list[str]:
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown:
        raise BadRequest(f"Unknown events: {', '.join(unknown)}. Known: {', '.join(EVENT_TYPES)}.")
    return sorted(set(events), key=EVENT_TYPES.index)


# ------------------------------------------------------------------------------------------ views


def endpoint_out(row: repo.WebhookEndpoint, now: datetime.datetime | None = None) -> EndpointOut:
    now = now or datetime.datetime.now(datetime.UTC)
    grace = row.previous_secret_expires_at
    return EndpointOut(
        id=row.id,
        team_id=row.team_id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        enabled=row.enabled,
        secret_hint=row.secret_hint,
        previous_secret_expires_at=grace if grace is not None and grace > now else None,
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def delivery_out(row: Any) -> DeliveryOut:
    pending = row.status in {"pending", "failed"}
    return DeliveryOut(
        id=row.id,
        event_id=row.event_id,
        event_type=row.event_type,
        endpoint_id=row.endpoint_id,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at if pending else None,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


# ------------------------------------------------------------------------------------------ endpoints


async def _lock_team(conn: AsyncConnection[Any], team_id: uuid.UUID) -> None:
    if not await repo.team_lock(conn, team_id):
        raise TeamNotFound()


async def create_endpoint(  # noqa: PLR0917 - resources, then who and what
    pool: Pool,
    keyring: Keyring | None,
    settings: WebhookSettings,
    actor: Actor,
    team_id: uuid.UUID,
    data: EndpointIn,
) -> EndpointCreated:
    ring = require_keyring(keyring)
    url = validate_url(data.url, allow_http=settings.allow_http)
    events = validate_events(list(data.events))
    endpoint_id = uuid.uuid4()
    secret = signing.new_secret()
    async with transaction(pool) as conn:
        await _lock_team(conn, team_id)
        if await repo.endpoint_count(conn, team_id) >= settings.max_endpoints_per_team:
            raise WebhookLimitReached(
                f"A team may register at most {settings.max_endpoints_per_team} webhook endpoints."
            )
        row = await repo.endpoint_create(
            conn,
            id=endpoint_id,
            team_id=team_id,
            url=url,
            events=events,
            secret_encrypted=ring.encrypt(secret, associated=signing.secret_aad(endpoint_id)),
            secret_hint=key_hint(secret),
            description=data.description,
            enabled=data.enabled,
            created_by=actor.name,
        )
        out = endpoint_out(row)
        await audit.record(conn, actor, "webhook.create", target_type="webhook", target_id=row.id, after=out)
    _log.info("webhook_endpoint_created", team_id=str(team_id), endpoint_id=str(endpoint_id))
    return EndpointCreated(**msgspec.structs.asdict(out), secret=secret)


async def list_endpoints(pool: Pool, team_id: uuid.UUID) -> list[EndpointOut]:
    async with connection(pool) as conn:
        rows = await repo.endpoint_list(conn, team_id)
    now = datetime.datetime.now(datetime.UTC)
    return [endpoint_out(r, now) for r in rows]


async def _endpoint(
    conn: AsyncConnection[Any], team_id: uuid.UUID, endpoint_id: uuid.UUID
) -> repo.WebhookEndpoint:
    row = await repo.endpoint_get(conn, team_id=team_id, endpoint_id=endpoint_id)
    if row is None:
        raise WebhookNotFound()
    return row


async def get_endpoint(pool: Pool, team_id: uuid.UUID, endpoint_id: uuid.UUID) -> EndpointOut:
    async with connection(pool) as conn:
        return endpoint_out(await _endpoint(conn, team_id, endpoint_id))


async def update_endpoint(  # noqa: PLR0917 - resources, then who and what
    pool: Pool,
    settings: WebhookSettings,
    actor: Actor,
    team_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    patch: EndpointPatch,
) -> EndpointOut:
    async with transaction(pool) as conn:
        before = await _endpoint(conn, team_id, endpoint_id)
        url = (
            before.url
            if patch.url is msgspec.UNSET
            else validate_url(patch.url, allow_http=settings.allow_http)
        )
        events = list(before.events) if patch.events is msgspec.UNSET else validate_events(list(patch.events))
        row = await repo.endpoint_update(
            conn,
            team_id=team_id,
            endpoint_id=endpoint_id,
            url=url,
            events=events,
            description=before.description if patch.description is msgspec.UNSET else patch.description,
            enabled=before.enabled if patch.enabled is msgspec.UNSET else patch.enabled,
        )
        assert row is not None
        out = endpoint_out(row)
        await audit.record(
            conn,
            actor,
            "webhook.update",
            target_type="webhook",
            target_id=endpoint_id,
            before=endpoint_out(before),
            after=out,
        )
    return out


async def rotate_secret(  # noqa: PLR0917 - resources, then who and what
    pool: Pool,
    keyring: Keyring | None,
    settings: WebhookSettings,
    actor: Actor,
    team_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    data: RotateSecretIn,
) -> SecretRotated:
    """A new secret; the current one keeps signing (a second ``v1``) for ``grace_s``."""
    ring = require_keyring(keyring)
    grace_s = settings.rotation_grace_s if data.grace_s is None else data.grace_s
    now = datetime.datetime.now(datetime.UTC)
    secret = signing.new_secret()
    async with transaction(pool) as conn:
        await _endpoint(conn, team_id, endpoint_id)
        row = await repo.endpoint_rotate_secret(
            conn,
            team_id=team_id,
            endpoint_id=endpoint_id,
            secret_encrypted=ring.encrypt(secret, associated=signing.secret_aad(endpoint_id)),
            secret_hint=key_hint(secret),
            previous_expires_at=now + datetime.timedelta(seconds=grace_s),
        )
        assert row is not None
        out = endpoint_out(row)
        await audit.record(conn, actor, "webhook.rotate_secret", target_type="webhook", target_id=endpoint_id)
    return SecretRotated(
        endpoint=out, secret=secret, previous_secret_valid_until=out.previous_secret_expires_at
    )


async def delete_endpoint(pool: Pool, actor: Actor, team_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    """Deletes the endpoint with its deliveries and attempts (the events stay)."""
    async with transaction(pool) as conn:
        before = await _endpoint(conn, team_id, endpoint_id)
        await repo.endpoint_delete(conn, team_id=team_id, endpoint_id=endpoint_id)
        await audit.record(
            conn,
            actor,
            "webhook.delete",
            target_type="webhook",
            target_id=endpoint_id,
            before=endpoint_out(before),
        )


# ------------------------------------------------------------------------------------------ test events


async def send_test_event(pool: Pool, team_id: uuid.UUID, endpoint_id: uuid.UUID) -> TestEventSent:
    """A ``webhook.test`` event delivered to this endpoint only (even when disabled for events)."""
    now = datetime.datetime.now(datetime.UTC)
    async with transaction(pool) as conn:
        endpoint = await _endpoint(conn, team_id, endpoint_id)
        event = await repo.event_insert(
            conn,
            team_id=team_id,
            type=TEST_EVENT,
            dedupe_key=f"test:{uuid.uuid4()}",
            payload={"endpoint_id": str(endpoint.id), "sent_at": now.isoformat(), "test": True},
        )
        assert event is not None
        delivery = await repo.delivery_create(conn, event=event, endpoint_id=endpoint.id)
    return TestEventSent(event_id=event.id, delivery_id=delivery.id)


# ------------------------------------------------------------------------------------------ deliveries


async def list_deliveries(
    pool: Pool,
    team_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    status: str | None = None,
    limit: int = 50,
) -> list[DeliveryOut]:
    if status is not None and status not in {"pending", "succeeded", "failed", "dead"}:
        raise BadRequest("status must be one of pending, succeeded, failed, dead")
    async with connection(pool) as conn:
        await _endpoint(conn, team_id, endpoint_id)
        rows = await repo.deliveries_for_endpoint(
            conn,
            team_id=team_id,
            endpoint_id=endpoint_id,
            status=status,  # type: ignore[arg-type]
            limit=max(1, min(limit, MAX_PAGE)),
        )
    return [delivery_out(r) for r in rows]


async def get_delivery(
    pool: Pool, team_id: uuid.UUID, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryDetail:
    async with connection(pool) as conn:
        row = await repo.delivery_for_team(
            conn, team_id=team_id, endpoint_id=endpoint_id, delivery_id=delivery_id
        )
        if row is None:
            raise WebhookNotFound("Delivery not found.")
        attempts = await repo.attempts_for_delivery(conn, delivery_id)
    return DeliveryDetail(
        **msgspec.structs.asdict(delivery_out(row)),
        attempt_history=[
            AttemptOut(
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                duration_ms=a.duration_ms,
                error=a.error,
            )
            for a in attempts
        ],
    )
