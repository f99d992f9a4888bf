"""Delivering webhook events: one attempt per call, every attempt recorded, backoff up to 24 h.

:func:`deliver` claims a due delivery (``claimed_until``: one attempt in flight; a killed worker's
claim lapses), POSTs the signed event with explicit timeouts, no redirects followed and at most
``_BODY_CAP`` bytes of the answer read (outside ``allow_http`` dev/test mode, not when the host
resolves to a loopback, private or otherwise non-public address), records the attempt, and either
finishes the delivery
(``succeeded`` on any 2xx; ``dead`` once the next attempt would fall past ``max_age_s`` after the
delivery was created) or schedules the next attempt (``failed``, ``next_attempt_at`` = now +
exponential backoff with jitter). Running it twice, or concurrently, never sends one attempt twice;
a crash between the POST and the record means the receiver may see the event again (at-least-once:
receivers dedupe on the event id).

:func:`due_deliveries` is the sweep's query: due, unclaimed deliveries (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx
import msgspec
import structlog
from psycopg import AsyncConnection

from tollgate_api.auth.keyring import require_keyring
from tollgate_api.settings import WebhookSettings
from tollgate_api.webhooks import repository as repo
from tollgate_api.webhooks import signing
from tollgate_common.crypto import Keyring

_log = structlog.get_logger("tollgate.webhooks")

_BODY_CAP: Final = 1024
_ERROR_CAP: Final = 500
_CLAIM_SLACK_S: Final = 30.0
USER_AGENT: Final = "Tollgate-Webhooks/1"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What :func:`deliver` did: ``skipped`` (not due, claimed elsewhere, or gone), ``succeeded``,
    ``failed`` (``retry_at`` set) or ``dead``."""

    status: str
    retry_at: datetime.datetime | None = None
    status_code: int | None = None


@dataclass(frozen=True, slots=True)
class _Attempt:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def backoff_s(attempts: int, settings: WebhookSettings, rand: Callable[[], float] = random.random) -> float:
    """Delay after the ``attempts``-th failed attempt: base·2^(n-1), capped, times a jitter in [0.5, 1)."""
    exponent = min(max(attempts - 1, 0), 30)
    factor = float(1 << exponent)
    return min(settings.backoff_base_s * factor, settings.backoff_max_s) * (0.5 + rand() / 2)


def event_body(event: repo.WebhookEvent) -> bytes:
    """The JSON body receivers get (and the bytes the signature covers)."""
    return msgspec.json.encode(
        {
            "id": str(event.id),
            "type": event.type,
            "created_at": event.created_at,
            "team_id": str(event.team_id),
            "data": event.payload,
        }
    )


def signing_secrets(endpoint: repo.WebhookEndpoint, keyring: Keyring, now: datetime.datetime) -> list[str]:
    aad = signing.secret_aad(endpoint.id)
    secrets = [keyring.decrypt(endpoint.secret_encrypted, associated=aad)]
    grace = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and grace is not None and grace > now:
        secrets.append(keyring.decrypt(endpoint.previous_secret_encrypted, associated=aad))
    return secrets


def build_client(
    settings: WebhookSettings, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    timeout = httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s, pool=settings.timeout_s)
    return httpx.AsyncClient(
        timeout=timeout,
        follow_redirects=False,
        limits=httpx.Limits(max_connections=20, max_keepalive_connections=5),
        headers={"user-agent": USER_AGENT},
        transport=transport,
        trust_env=False,
    )


async def _refused_destination(url: str) -> str | None:
    """Why ``url`` may not be called, or None: its host must resolve to public addresses only
    (registration checks the name as written; this catches names pointing inside the network)."""
    parts = httpx.URL(url)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.host, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError as exc:
        return f"connection failed (name resolution: {exc.strerror or type(exc).__name__})"
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not address.is_global:
            return "destination not allowed (resolves to a non-public address)"
    return None


async def _post(client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str]) -> _Attempt:
    started = time.perf_counter()
    status_code: int | None = None
    error: str | None = None
    try:
        async with client.stream("POST", url, content=body, headers=headers) as response:
            status_code = response.status_code
            snippet = bytearray()
            async for chunk in response.aiter_bytes():
                snippet.extend(chunk[: _BODY_CAP - len(snippet)])
                if len(snippet) >= _BODY_CAP:
                    break
            if not 200 <= status_code < 300:
                text = bytes(snippet).decode("utf-8", "replace").strip()
                error = f"HTTP {status_code}" + (f": {text}" if text else "")
    except httpx.TimeoutException as exc:
        error = f"timeout ({type(exc).__name__})"
    except httpx.TransportError as exc:
        error = f"connection failed ({type(exc).__name__}: {exc})"
    duration_ms = int((time.perf_counter() - started) * 1000)
    return _Attempt(
        status_code=status_code, error=error[:_ERROR_CAP] if error else None, duration_ms=duration_ms
    )


async def deliver(
    conn: AsyncConnection[Any],
    keyring: Keyring | None,
    settings: WebhookSettings,
    delivery_id: uuid.UUID,
    *,
    now: datetime.datetime | None = None,
    client: httpx.AsyncClient | None = None,
) -> Outcome:
    """One attempt at ``delivery_id`` if it is due (``now``: tests drive the clock). ``conn`` autocommits."""
    now = now or datetime.datetime.now(datetime.UTC)
    lease = settings.timeout_s + settings.connect_timeout_s + _CLAIM_SLACK_S
    claimed = await repo.delivery_claim(
        conn, delivery_id=delivery_id, now=now, claimed_until=now + datetime.timedelta(seconds=lease)
    )
    if claimed is None:
        return Outcome("skipped")
    endpoint = await repo.endpoint_get_by_id(conn, claimed.endpoint_id)
    event = await repo.event_get(conn, claimed.event_id)
    if endpoint is None or event is None:  # pragma: no cover - deleted with the endpoint (cascade)
        return Outcome("skipped")
    if not endpoint.enabled and event.type != "webhook.test":
        await repo.delivery_record(
            conn,
            delivery_id=delivery_id,
            status="dead",
            next_attempt_at=now,
            last_status_code=None,
            last_error="endpoint disabled",
        )
        return Outcome("dead")
    body = event_body(event)
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        signing.SIGNATURE_HEADER: signing.signature_header(
            signing_secrets(endpoint, require_keyring(keyring), now), timestamp, body
        ),
        signing.EVENT_ID_HEADER: str(event.id),
        signing.EVENT_TYPE_HEADER: event.type,
        signing.TIMESTAMP_HEADER: str(timestamp),
    }
    refused = None if settings.allow_http else await _refused_destination(endpoint.url)
    if refused is not None:
        attempt = _Attempt(status_code=None, error=refused, duration_ms=0)
    elif client is None:
        async with build_client(settings) as own:
            attempt = await _post(own, endpoint.url, body, headers)
    else:
        attempt = await _post(client, endpoint.url, body, headers)
    return await _record(conn, settings, claimed, attempt, now)


async def _record(
    conn: AsyncConnection[Any],
    settings: WebhookSettings,
    delivery: repo.WebhookDelivery,
    attempt: _Attempt,
    now: datetime.datetime,
) -> Outcome:
    attempts = delivery.attempts + 1
    retry_at: datetime.datetime | None = None
    if attempt.ok:
        status: repo.WebhookDeliveryStatus = "succeeded"
    else:
        retry_at = now + datetime.timedelta(seconds=backoff_s(attempts, settings))
        deadline = delivery.created_at + datetime.timedelta(seconds=settings.max_age_s)
        status = "dead" if retry_at > deadline else "failed"
    async with conn.transaction():
        await repo.attempt_insert(
            conn,
            delivery_id=delivery.id,
            attempted_at=now,
            status_code=attempt.status_code,
            duration_ms=attempt.duration_ms,
            error=attempt.error,
        )
        await repo.delivery_record(
            conn,
            delivery_id=delivery.id,
            status=status,
            next_attempt_at=retry_at if status == "failed" and retry_at is not None else now,
            last_status_code=attempt.status_code,
            last_error=attempt.error,
        )
    _log.info(
        "webhook_attempt",
        delivery_id=str(delivery.id),
        endpoint_id=str(delivery.endpoint_id),
        attempt=attempts,
        status=status,
        status_code=attempt.status_code,
        duration_ms=attempt.duration_ms,
    )
    return Outcome(status, retry_at if status == "failed" else None, attempt.status_code)


async def due_deliveries(
    conn: AsyncConnection[Any], *, now: datetime.datetime | None = None, limit: int = 500
) -> list[uuid.UUID]:
    """Ids of due, unclaimed deliveries, oldest first (the sweep enqueues one message each)."""
    now = now or datetime.datetime.now(datetime.UTC)
    async with conn.transaction():
        return await repo.deliveries_due(conn, now=now, limit=limit)
