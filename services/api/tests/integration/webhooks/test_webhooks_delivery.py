"""Delivery: a receiver that fails three ways then succeeds gets the event once acknowledged, every
attempt recorded; the signature verifies with the documented recipe; retries stop after 24 h; the
actors deliver on a broker and the sweep finds deliveries whose enqueue was lost."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import importlib.util
import json
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any

import dramatiq
import pytest

from tollgate_api.jobs.controllers import JOBS_STATE_KEY
from tollgate_api.settings import WebhookSettings
from tollgate_api.webhooks import actors, delivery
from tollgate_api.worker.broker import install, stub_broker
from tollgate_common.crypto import Keyring

EXAMPLE = Path(__file__).resolve().parents[5] / "docs" / "examples" / "verify_webhook.py"
FORBIDDEN = ("model", "provider", "token", "cost", "usd", "margin")


def recipe() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_webhook_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def keys_of(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [k for key, v in value.items() for k in (key, *keys_of(v))]
    if isinstance(value, list):
        return [k for v in value for k in keys_of(v)]
    return []


async def drain(broker: Any) -> None:
    await asyncio.to_thread(lambda: broker.join(actors.WEBHOOKS_QUEUE, fail_fast=True))


async def only_delivery(world: Any) -> tuple[uuid.UUID, datetime.datetime]:
    async with world.pool.connection() as conn:
        rows = await (await conn.execute("SELECT id, created_at FROM api.webhook_deliveries")).fetchall()
    assert len(rows) == 1
    return rows[0][0], rows[0][1]


async def attempt(world: Any, delivery_id: uuid.UUID, now: datetime.datetime) -> delivery.Outcome:
    keyring = Keyring.from_setting(world.settings.auth.encryption_keys.get())
    async with world.pool.connection() as conn:
        return await delivery.deliver(conn, keyring, world.settings.webhooks, delivery_id, now=now)


async def test_receiver_failing_three_times_gets_the_job_event_once_acknowledged(
    open_hooks: Any, receiver: Any
) -> None:
    async with open_hooks() as hooks:
        await _fails_three_times_then_succeeds(hooks, hooks.world, receiver)


async def _fails_three_times_then_succeeds(hooks: Any, world: Any, receiver: Any) -> None:
    team = await world.seed_team()
    endpoint = await hooks.register(team, receiver.url, ["job.completed"])
    receiver.script = ["500", "timeout", "drop", "200"]
    job_id = await hooks.finish_job(team, metadata={"customer": "acme"})

    delivery_id, created_at = await only_delivery(world)
    now = created_at
    outcomes = []
    for _ in range(4):
        outcome = await attempt(world, delivery_id, now)
        outcomes.append(outcome.status)
        if outcome.retry_at is not None:
            assert outcome.retry_at > now
            early = await attempt(world, delivery_id, outcome.retry_at - datetime.timedelta(milliseconds=1))
            assert early.status == "skipped"  # backoff is respected
            now = outcome.retry_at
    assert outcomes == ["failed", "failed", "failed", "succeeded"]
    assert (await attempt(world, delivery_id, now + datetime.timedelta(days=1))).status == "skipped"

    # four requests arrived, all for the same event; the fourth was acknowledged
    assert len(receiver.received) == 4
    event_ids = {r.headers["tollgate-event-id"] for r in receiver.received}
    assert len(event_ids) == 1
    final = receiver.received[-1]
    assert final.headers["tollgate-event-type"] == "job.completed"

    # the documented recipe verifies it with the endpoint's secret, and refuses another secret
    verify = recipe()
    event = verify.verify_webhook(final.body, final.headers["tollgate-signature"], endpoint["secret"])
    assert event["id"] == event_ids.pop()
    assert event["type"] == "job.completed"
    with pytest.raises(verify.WebhookVerificationError):
        verify.verify_webhook(final.body, final.headers["tollgate-signature"], "whsec_" + "x" * 43)
    with pytest.raises(verify.WebhookVerificationError):
        verify.verify_webhook(final.body + b" ", final.headers["tollgate-signature"], endpoint["secret"])

    # the payload: job facts and the team's metadata, no internals
    data = event["data"]
    assert data["job_id"] == job_id
    assert data["status"] == "completed"
    assert data["job_type"] == "summary"
    assert data["credits_charged"] == 2  # the per-job plan of tests.jobs_support
    assert data["metadata"] == {"order": "A-17", "customer": "acme"}
    assert not [k for k in keys_of(event) if any(word in k.lower() for word in FORBIDDEN)]

    # the team sees the delivery and its four attempts
    listed = await hooks.deliveries(team, endpoint["id"])
    assert [(d["status"], d["attempts"], d["event_type"]) for d in listed] == [
        ("succeeded", 4, "job.completed")
    ]
    detail = await world.client.get(
        f"/api/webhooks/{endpoint['id']}/deliveries/{delivery_id}", headers=team.headers
    )
    history = detail.json()["attempt_history"]
    assert [a["status_code"] for a in history] == [500, None, None, 200]
    assert history[0]["error"].startswith("HTTP 500")
    assert "timeout" in history[1]["error"]
    assert "connection failed" in history[2]["error"]
    assert history[3]["error"] is None
    assert all(a["duration_ms"] >= 0 for a in history)
    assert history[1]["duration_ms"] >= 400  # the read timeout (0.5 s) was waited for, not more


async def test_retries_stop_after_24_hours_as_dead(open_hooks: Any, receiver: Any) -> None:
    async with open_hooks() as hooks:
        await _goes_dead(hooks, hooks.world, receiver)


async def _goes_dead(hooks: Any, world: Any, receiver: Any) -> None:
    team = await world.seed_team()
    await hooks.register(team, receiver.url, ["job.failed"])
    receiver.script = ["503"] * 50
    await hooks.finish_job(team, status="failed", error_message="bad input")
    delivery_id, created_at = await only_delivery(world)

    first = await attempt(world, delivery_id, created_at)
    assert first.status == "failed"
    # an attempt whose next retry would fall past created_at + 24 h is the last one
    last = await attempt(
        world, delivery_id, created_at + datetime.timedelta(hours=23, minutes=59, seconds=59)
    )
    assert last.status == "dead"
    assert last.retry_at is None
    assert (await attempt(world, delivery_id, created_at + datetime.timedelta(days=2))).status == "skipped"
    assert json.loads(receiver.received[0].body)["data"]["reason"] == "failed"


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    settings = WebhookSettings()
    low = [delivery.backoff_s(n, settings, rand=lambda: 0.0) for n in range(1, 12)]
    high = [delivery.backoff_s(n, settings, rand=lambda: 0.999999) for n in range(1, 12)]
    assert low[:4] == [15.0, 30.0, 60.0, 120.0]
    assert all(h <= settings.backoff_max_s for h in high)
    assert high[-1] > settings.backoff_max_s * 0.99


async def test_actors_deliver_on_a_broker_and_the_sweep_finds_lost_enqueues(
    open_hooks: Any, receiver: Any
) -> None:
    async with open_hooks() as hooks:
        await _actors_deliver(hooks, hooks.world, receiver)


async def _actors_deliver(hooks: Any, world: Any, receiver: Any) -> None:
    team = await world.seed_team()
    endpoint = await hooks.register(team, receiver.url, ["job.completed"])
    broker = install(stub_broker(), world.settings)
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        # POST /test enqueues its delivery right away
        sent = await world.client.post(f"/api/webhooks/{endpoint['id']}/test", headers=team.headers)
        assert sent.status_code == 202, sent.text
        await drain(broker)
        assert [r.headers["tollgate-event-type"] for r in receiver.received] == ["webhook.test"]
        assert receiver.received[0].headers["tollgate-event-id"] == sent.json()["event_id"]

        # a job completed through the API: the api sends the sweep after its commit
        await hooks.finish_job(team)
        await drain(broker)
        assert [r.headers["tollgate-event-type"] for r in receiver.received] == [
            "webhook.test",
            "job.completed",
        ]

        # the enqueue after commit is lost: nothing is delivered until the sweep runs
        ctx = world.app.state[JOBS_STATE_KEY]
        world.app.state[JOBS_STATE_KEY] = dataclasses.replace(ctx, enqueue_webhooks=None)
        await hooks.finish_job(team)
        await drain(broker)
        assert len(receiver.received) == 2
        actors.deliver_due_webhooks.send()
        await drain(broker)
        # running the sweep again finds nothing due and sends nothing twice
        actors.deliver_due_webhooks.send()
        await drain(broker)
    finally:
        worker.stop()
    types = [r.headers["tollgate-event-type"] for r in receiver.received]
    assert types == ["webhook.test", "job.completed", "job.completed"]
    statuses = [d["status"] for d in await hooks.deliveries(team, endpoint["id"])]
    assert statuses == ["succeeded", "succeeded", "succeeded"]


async def test_a_name_resolving_to_a_private_address_is_not_called(open_hooks: Any, receiver: Any) -> None:
    async with open_hooks(WEBHOOKS_ALLOW_HTTP="false") as hooks:
        world = hooks.world
        team = await world.seed_team()
        endpoint = await hooks.register(team, "https://hooks.example.com/x", ["job.completed"])
        # the name was public when registered; now it resolves to loopback (as localhost does)
        port = receiver.url.split(":")[2].split("/")[0]
        async with world.pool.connection() as conn:
            await conn.execute(
                "UPDATE api.webhook_endpoints SET url = %s WHERE id = %s",
                (f"https://localhost:{port}/hooks", endpoint["id"]),
            )
        await hooks.finish_job(team)
        delivery_id, created_at = await only_delivery(world)
        outcome = await attempt(world, delivery_id, created_at)
        assert outcome.status == "failed"
        assert receiver.received == []
        [listed] = await hooks.deliveries(team, endpoint["id"])
        assert listed["last_error"].startswith("destination not allowed")


async def test_a_finish_without_subscribed_endpoints_sends_nothing_to_the_workers(
    open_hooks: Any, receiver: Any
) -> None:
    async with open_hooks() as hooks:
        world = hooks.world
        sent: list[str] = []

        async def record() -> None:
            sent.append("sweep")

        ctx = world.app.state[JOBS_STATE_KEY]
        world.app.state[JOBS_STATE_KEY] = dataclasses.replace(ctx, enqueue_webhooks=record)
        team = await world.seed_team()
        await hooks.finish_job(team)  # no endpoint: no delivery written, no Redis round trip
        assert sent == []
        await hooks.register(team, receiver.url, ["job.completed"])
        await hooks.finish_job(team)
        assert sent == ["sweep"]
