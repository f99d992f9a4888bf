"""The dead-letter view on the real Redis broker: a message whose retries ran out is listed with its
actor, args and error, can be requeued once, and the queue lengths say where messages are."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import dramatiq
import redis

from tollgate_api.worker.broker import build_broker, install, namespace

from .conftest import World

QUEUE = "deadletter-test"


async def test_dead_letters_are_listed_and_requeued_once(upkeep_world: World, redis_url: str) -> None:
    async with upkeep_world() as world:
        settings = world.world.settings
        broker = install(build_broker(settings), settings)
        name = f"always_fails_{uuid.uuid4().hex[:6]}"

        def always_fails(invoice: str) -> None:
            raise ValueError(f"cannot bill {invoice}")

        declare = dramatiq.actor(
            broker=broker, actor_name=name, queue_name=QUEUE, max_retries=1, min_backoff=10
        )
        declare(always_fails)
        xq = f"{namespace(settings)}:{QUEUE}.XQ"
        client = redis.Redis.from_url(redis_url)
        worker = dramatiq.Worker(broker, worker_timeout=50)
        worker.start()
        try:
            broker.get_actor(name).send("inv-42")
            for _ in range(200):
                if client.zcard(xq) == 1:
                    break
                await asyncio.sleep(0.05)
        finally:
            worker.stop()
        assert client.zcard(xq) == 1

        async def get(path: str, **params: Any) -> Any:
            response = await world.world.client.get(path, params=params, headers=world.admin_headers)
            assert response.status_code == 200, response.text
            return response.json()

        def lengths(queues: list[dict[str, Any]]) -> tuple[int, int, int]:
            (row,) = [q for q in queues if q["name"] == QUEUE]
            return row["ready"], row["delayed"], row["dead"]

        listed = await get("/admin/worker/dead-letters", queue=QUEUE)
        everywhere = await get("/admin/worker/dead-letters")
        before = lengths(await get("/admin/worker/queues"))
        dead_id = listed[0]["id"]
        url = f"/admin/worker/dead-letters/{QUEUE}/{dead_id}/requeue"
        requeued = await world.world.client.post(url, headers=world.admin_headers)
        twice = await world.world.client.post(url, headers=world.admin_headers)
        after = lengths(await get("/admin/worker/queues"))
        left = await get("/admin/worker/dead-letters", queue=QUEUE)
        anonymous = await world.world.client.get("/admin/worker/dead-letters")
        client.close()

        assert [(d["actor"], d["args"], d["queue"], d["retries"]) for d in listed] == [
            (name, ["inv-42"], QUEUE, 1)
        ]
        assert listed[0]["error"] == "ValueError: cannot bill inv-42"
        assert everywhere == listed
        assert before == (0, 0, 1)
        assert requeued.status_code == 200, requeued.text
        assert requeued.json()["message_id"] == listed[0]["message_id"]
        assert twice.status_code == 404
        assert twice.json()["type"].endswith("dead-letter-not-found")
        assert after == (1, 0, 0)
        assert left == []
        assert anonymous.status_code == 401
