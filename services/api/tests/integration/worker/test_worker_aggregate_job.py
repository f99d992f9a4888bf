"""The aggregate_job actor: a stub broker + worker, a real Redis broker, and running it twice."""

from __future__ import annotations

import asyncio
import uuid

import dramatiq
import psycopg
import redis

from tests.fakes import Behavior
from tests.jobs_support import GROUP, job_world
from tollgate_api.usage import service as usage
from tollgate_api.worker import actors
from tollgate_api.worker import services as worker_services
from tollgate_api.worker.broker import build_broker, install, namespace, stub_broker
from tollgate_api.worker.enqueue import enqueue_aggregation

MESSAGES = [{"role": "user", "content": "Write a haiku about invoices"}]


async def finished_job(world, team) -> uuid.UUID:  # type: ignore[no-untyped-def]
    created = await world.client.post("/api/jobs/create", json={"job_type": "poem"}, headers=team.headers)
    job_id = created.json()["job_id"]
    world.fake.push(Behavior(content="five seven five", prompt_tokens=20, completion_tokens=7))
    call = await world.client.post(
        f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
    )
    assert call.status_code == 200, call.text
    done = await world.client.post(
        f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
    )
    assert done.status_code == 200, done.text
    return uuid.UUID(job_id)


def cost_row(database_url: str, job_id: uuid.UUID) -> tuple[object, ...] | None:
    with psycopg.connect(database_url) as conn:
        return conn.execute(
            "SELECT calls, prompt_tokens, completion_tokens, cost_micro_usd, price_credits, price_usd_micro,"
            " margin_usd_micro, status::text FROM api.job_costs WHERE job_id = %s",
            (job_id,),
        ).fetchone()


def outbox_done(database_url: str, job_id: uuid.UUID) -> bool:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT processed_at IS NOT NULL FROM api.job_outbox"
            " WHERE job_id = %s AND event = 'job.finished'",
            (job_id,),
        ).fetchone()
    return bool(row and row[0])


async def test_actor_on_stub_broker_writes_cost_price_margin_and_is_idempotent(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await finished_job(world, team)
        assert not outbox_done(database_url, job_id)

        broker = install(stub_broker(), world.settings)
        worker = dramatiq.Worker(broker, worker_timeout=50)
        worker.start()
        try:
            actors.aggregate_job.send(str(job_id))
            await asyncio.to_thread(broker.join, actors.AGGREGATION_QUEUE, fail_fast=True)
            first = cost_row(database_url, job_id)
            actors.aggregate_job.send(str(job_id))
            await asyncio.to_thread(broker.join, actors.AGGREGATION_QUEUE, fail_fast=True)
            second = cost_row(database_url, job_id)
        finally:
            worker.stop()

        cost = world.router.cost({"prompt_tokens": 20, "completion_tokens": 7})
        # per-job plan: 2 credits x 10_000 micro-USD per credit = 20_000 micro-USD of revenue
        assert first == (1, 20, 7, cost, 2, 20_000, 20_000 - cost, "completed")
        assert second == first
        assert outbox_done(database_url, job_id)


def backends(database_url: str) -> int:
    """Sessions other than this one connected to the test's database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()
    return int(row[0]) if row else 0


async def test_the_worker_reuses_pooled_connections_and_closes_them_at_shutdown(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        jobs = [await finished_job(world, team) for _ in range(10)]
        broker = install(stub_broker(), world.settings)
        worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
        worker.start()
        before = backends(database_url)  # the app's own pool, the world's helpers
        try:
            for job_id in jobs:
                actors.aggregate_job.send(str(job_id))
            await asyncio.to_thread(broker.join, actors.AGGREGATION_QUEUE, fail_fast=True)
            pools = [pool for (_loop, url), pool in worker_services._pools.items() if url == database_url]
            assert len(pools) == 1
            stats = pools[0].get_stats()
            assert stats["requests_num"] >= 10  # ten messages ...
            assert stats["connections_num"] <= 4  # ... on a few connections (pool min 2, 2 threads)
            during = backends(database_url)
        finally:
            worker.stop()
        assert all(cost_row(database_url, job_id) for job_id in jobs)
        assert during - before <= 4
        assert worker_services._pools == {}
        assert backends(database_url) <= before  # closed at shutdown


async def test_aggregation_of_an_open_job_does_nothing(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        created = await world.client.post("/api/jobs/create", json={}, headers=team.headers)
        job_id = uuid.UUID(created.json()["job_id"])
        async with world.pool.connection() as conn:
            assert await usage.aggregate_job(conn, job_id) is False
            assert await usage.aggregate_job(conn, uuid.uuid4()) is False
        assert cost_row(database_url, job_id) is None


async def test_complete_enqueues_on_the_real_redis_broker_and_a_worker_drains_it(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        broker = install(build_broker(world.settings), world.settings)
        try:
            job_id = await finished_job(world, team)
            await enqueue_aggregation(job_id)
            client = redis.Redis.from_url(redis_url)
            queue_key = f"{namespace(world.settings)}:{actors.AGGREGATION_QUEUE}"
            assert client.hlen(queue_key + ".msgs") == 1
            client.close()

            worker = dramatiq.Worker(broker, worker_timeout=50)
            worker.start()
            try:
                for _ in range(100):
                    if cost_row(database_url, job_id) is not None:
                        break
                    await asyncio.sleep(0.05)
            finally:
                worker.stop()
            assert cost_row(database_url, job_id) is not None
            assert outbox_done(database_url, job_id)
        finally:
            broker.close()
            install(stub_broker(), world.settings)


async def test_outbox_sweep_aggregates_jobs_whose_enqueue_was_lost(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job_id = await finished_job(world, team)  # the world's enqueue only records: "lost"
        broker = install(stub_broker(), world.settings)
        worker = dramatiq.Worker(broker, worker_timeout=50)
        worker.start()
        try:
            actors.sweep_job_outbox.send(0)
            await asyncio.to_thread(broker.join, actors.AGGREGATION_QUEUE, fail_fast=True)
            await asyncio.to_thread(broker.join, actors.AGGREGATION_QUEUE, fail_fast=True)
        finally:
            worker.stop()
        assert cost_row(database_url, job_id) is not None
        assert outbox_done(database_url, job_id)
