"""The upkeep actors through Dramatiq: every one run twice (stub broker + worker) leaves the state of
one run; one on the real Redis broker; the schedule and its scheduler sending each tick once."""

from __future__ import annotations

import asyncio
import datetime
import json
import uuid
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.stub import StubBroker

from tests.jobs_support import ACTOR
from tollgate_api.credits import service as credits
from tollgate_api.upkeep import actors as upkeep_actors
from tollgate_api.worker import actors as worker_actors
from tollgate_api.worker.broker import build_broker, install, stub_broker
from tollgate_api.worker.schedule import SCHEDULE, periodic_actors
from tollgate_api.worker.scheduler import ClaimingScheduler

from .conftest import Upkeep, World

UPKEEP = upkeep_actors.UPKEEP_QUEUE
AGGREGATION = worker_actors.AGGREGATION_QUEUE


def snapshot(world: Upkeep) -> dict[str, list[tuple[Any, ...]]]:
    """Everything the upkeep actors write, minus bookkeeping (run ids, timestamps of re-runs)."""
    return {
        "jobs": world.rows("SELECT id, status::text FROM api.jobs ORDER BY id"),
        "ledger": world.rows(
            "SELECT team_id, kind::text, amount, idempotency_key FROM api.ledger_entries ORDER BY id"
        ),
        "balances": world.rows("SELECT team_id, balance, held FROM api.team_balances ORDER BY team_id"),
        "alerts": world.rows(
            "SELECT team_id, threshold, available, cleared_at FROM api.credit_alerts ORDER BY id"
        ),
        "events": world.rows("SELECT team_id, type, dedupe_key FROM api.webhook_events ORDER BY dedupe_key"),
        "grants": world.rows("SELECT ledger_entry_id, expired_at, expired_amount FROM api.credit_grants"),
        "texts": world.rows("SELECT id, prompt IS NULL, retain_until FROM api.llm_calls ORDER BY id"),
        "drift": world.rows(
            "SELECT team_id, day, router_cost_micro_usd, api_cost_micro_usd, drift_micro_usd"
            " FROM api.reconciliation_drift ORDER BY team_id, day"
        ),
        "partitions": world.rows(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'api.llm_calls'::regclass ORDER BY 1"
        ),
    }


async def due_world(world: Upkeep) -> uuid.UUID:
    """A team with something due for every actor: low credits, an expired job, a due grant, stored text
    past retention, and real calls through the router to reconcile."""
    team = await world.world.seed_team(credits_amount=60)
    await world.job_with_calls(team, calls=2)
    due_job = await world.job_with_calls(team, calls=0, complete=False)
    world.execute("UPDATE api.jobs SET expires_at = now() - interval '1 minute' WHERE id = %s", due_job)
    entry, _, _ = await credits.record_movement(
        world.pool,
        ACTOR,
        team_id=team.team_id,
        amount=25,
        kind="allocation",
        reason="trial",
        idempotency_key="trial",
        expires_at=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1),
    )
    world.execute("UPDATE api.credit_grants SET expires_at = now() - interval '1 second'")
    world.execute(
        "UPDATE api.llm_calls SET prompt = %s::jsonb, response_text = 'x',"
        " retain_until = now() - interval '1 hour'",
        json.dumps([{"role": "user", "content": "hi"}]),
    )
    for _ in range(100):  # the router writes its spend log every 250 ms
        if world.rows("SELECT count(*) FROM router.spend_log")[0][0] >= 2:
            break
        await asyncio.sleep(0.05)
    assert entry.id
    return team.team_id


def run_all(broker: StubBroker, today: str) -> None:
    upkeep_actors.expire_jobs.send()
    upkeep_actors.alert_low_credits.send()
    upkeep_actors.expire_credit_grants.send()
    upkeep_actors.purge_retention.send()
    upkeep_actors.reconcile_spend.send(today, today)
    upkeep_actors.maintain_partitions.send()
    broker.join(UPKEEP, fail_fast=True)
    broker.join(AGGREGATION)  # expire_jobs enqueued the expired job's aggregation


async def test_every_upkeep_actor_run_twice_leaves_the_state_of_one_run(upkeep_world: World) -> None:
    async with upkeep_world(real_router=True) as world:
        team_id = await due_world(world)
        before = snapshot(world)
        broker = stub_broker()
        install(broker, world.world.settings)
        worker = dramatiq.Worker(broker, worker_timeout=50)
        worker.start()
        today = datetime.datetime.now(datetime.UTC).date().isoformat()
        try:
            await asyncio.to_thread(run_all, broker, today)
            once = snapshot(world)
            await asyncio.to_thread(run_all, broker, today)
            twice = snapshot(world)
        finally:
            worker.stop()

        assert twice == once
        changed = {name for name in once if once[name] != before[name]}
        assert {"jobs", "ledger", "alerts", "events", "grants", "texts", "drift"} <= changed
        assert [r[-1] for r in once["drift"]] == [0]
        assert [(r[0], r[1]) for r in once["alerts"]] == [(team_id, 100)]
        assert all(prompt_gone for _, prompt_gone, _ in once["texts"])


async def test_an_upkeep_actor_runs_on_the_real_redis_broker(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team(credits_amount=10)
        broker = install(build_broker(world.world.settings), world.world.settings)
        worker = dramatiq.Worker(broker, worker_timeout=50)
        worker.start()
        try:
            upkeep_actors.alert_low_credits.send()
            for _ in range(200):
                if world.rows("SELECT count(*) FROM api.credit_alerts WHERE team_id = %s", team.team_id)[0][
                    0
                ]:
                    break
                await asyncio.sleep(0.05)
        finally:
            worker.stop()
            broker.close()
        assert world.rows("SELECT available FROM api.credit_alerts WHERE team_id = %s", team.team_id) == [
            (10,)
        ]


def test_the_schedule_covers_every_upkeep_actor_and_the_outbox_sweep() -> None:
    scheduled = {actor.actor_name for _, actor in SCHEDULE}
    declared = {a.actor_name for a in dramatiq.get_broker().actors.values() if a.queue_name == UPKEEP}
    assert declared <= scheduled
    assert "sweep_job_outbox" in scheduled
    assert "deliver_due_webhooks" in scheduled
    assert [str(p.spec) for p in periodic_actors()][:2] == ["* * * * *", "* * * * *"]


async def test_two_schedulers_send_each_tick_once(upkeep_world: World, redis_url: str) -> None:
    async with upkeep_world() as world:
        settings = world.world.settings
        broker = install(stub_broker(), settings)
        client = redis.Redis.from_url(redis_url)
        first = ClaimingScheduler(periodic_actors(), client, settings.redis.prefix)
        second = ClaimingScheduler(periodic_actors(), client, settings.redis.prefix)
        tick = datetime.datetime(2026, 11, 23, 0, 30, tzinfo=datetime.UTC)
        due = [p for p in periodic_actors() if p.spec.validate(tick)]

        first.send_actors(due, tick)
        second.send_actors(due, tick)
        first.send_actors(due, tick + datetime.timedelta(minutes=1))
        client.close()

        names = {p.actor_name for p in due}
        assert "reconcile_spend" in names
        assert "maintain_partitions" not in names  # 00:45
        queued = sum(queue.qsize() for queue in broker.queues.values())
        assert queued == 2 * len(due)  # two ticks, each sent once
