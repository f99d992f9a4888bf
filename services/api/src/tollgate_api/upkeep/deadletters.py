"""The worker queues as operators see them: lengths, dead letters, and requeueing a dead letter.

Dramatiq's ``RedisBroker`` keeps, under its namespace ``<ns>`` (``<prefix>dramatiq``):

* ``<ns>:<queue>`` — a list of ready message ids; ``<ns>:<queue>.msgs`` — id → message;
* ``<ns>:<queue>.DQ`` (+ ``.msgs``) — delayed messages (retries with backoff);
* ``<ns>:<queue>.XQ`` — a sorted set of dead-lettered ids (score: when, ms); ``<ns>:<queue>.XQ.msgs`` —
  id → message. Messages land there once their retries are exhausted; the broker drops them after
  ``dead_message_ttl`` (7 days by default).

The stored dead message is the copy the worker last fetched, so its ``traceback`` option is the
previous failure's (Dramatiq records the last one only in memory); an actor without retries has none.

Requeue claims the dead letter first (``ZREM`` — of two operators clicking at once, one wins), enqueues
a fresh copy with its retry count reset, then drops the stored body. With a stub broker (tests, no
Redis) there are no dead letters.
"""

from __future__ import annotations

import asyncio
import datetime
from typing import Any, Final, cast

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import dq_name

from tollgate_api.upkeep.errors import DeadLetterNotFound
from tollgate_api.upkeep.schemas import DeadLetterOut, QueueOut, RequeuedOut
from tollgate_api.worker.broker import current_broker

_RESET_OPTIONS: Final = frozenset({"retries", "traceback", "requeue_timestamp", "redis_message_id", "eta"})


def _from_ms(ms: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)


def _canonical(queue: str) -> str:
    return queue.removesuffix(".DQ")


def _redis_broker() -> RedisBroker | None:
    broker = current_broker()
    return broker if isinstance(broker, RedisBroker) else None


def _queues(broker: dramatiq.Broker) -> list[str]:
    return sorted({_canonical(q) for q in broker.get_declared_queues()})


def _client(broker: RedisBroker) -> redis.Redis:
    client: redis.Redis = broker.client
    return client


def _dead_letter(queue: str, dead_id: str, raw: bytes, score: float) -> DeadLetterOut:
    message = dramatiq.Message.decode(raw)
    traceback = message.options.get("traceback")
    error = traceback.strip().splitlines()[-1] if isinstance(traceback, str) and traceback.strip() else None
    return DeadLetterOut(
        id=dead_id,
        queue=queue,
        actor=message.actor_name,
        args=list(message.args),
        kwargs=dict(message.kwargs),
        message_id=message.message_id,
        retries=int(message.options.get("retries", 0)),
        error=error,
        traceback=traceback if isinstance(traceback, str) else None,
        enqueued_at=_from_ms(message.message_timestamp),
        dead_at=_from_ms(score),
    )


def _list_sync(broker: RedisBroker, queue: str | None, limit: int) -> list[DeadLetterOut]:
    client = _client(broker)
    found: list[DeadLetterOut] = []
    for name in [queue] if queue else _queues(broker):
        xq = f"{broker.namespace}:{name}.XQ"
        entries = cast("list[tuple[bytes, float]]", client.zrevrange(xq, 0, limit - 1, withscores=True))
        for dead_id, score in entries:
            raw = cast("bytes | None", client.hget(xq + ".msgs", dead_id))
            if raw is not None:
                found.append(_dead_letter(name, dead_id.decode(), raw, score))
    found.sort(key=lambda d: d.dead_at, reverse=True)
    return found[:limit]


def _requeue_sync(broker: RedisBroker, queue: str, dead_id: str) -> RequeuedOut:
    client = _client(broker)
    xq = f"{broker.namespace}:{queue}.XQ"
    raw = cast("bytes | None", client.hget(xq + ".msgs", dead_id))
    score = client.zscore(xq, dead_id)
    if raw is None or score is None or not client.zrem(xq, dead_id):
        raise DeadLetterNotFound()
    try:
        message = dramatiq.Message.decode(raw)
        fresh: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=_canonical(message.queue_name),
            actor_name=message.actor_name,
            args=message.args,
            kwargs=message.kwargs,
            options={k: v for k, v in message.options.items() if k not in _RESET_OPTIONS},
            message_id=message.message_id,
            message_timestamp=message.message_timestamp,
        )
        broker.enqueue(fresh)
    except Exception:
        client.zadd(xq, {dead_id: score})  # put the claim back: the dead letter stays visible
        raise
    client.hdel(xq + ".msgs", dead_id)
    return RequeuedOut(id=dead_id, queue=queue, actor=fresh.actor_name, message_id=fresh.message_id)


def _lengths_sync(broker: RedisBroker) -> list[QueueOut]:
    client = _client(broker)
    out = []
    for name in _queues(broker):
        base = f"{broker.namespace}:{name}"
        out.append(
            QueueOut(
                name=name,
                ready=int(client.llen(base)),
                delayed=int(client.llen(f"{broker.namespace}:{dq_name(name)}")),
                dead=int(client.zcard(base + ".XQ")),
            )
        )
    return out


async def dead_letters(*, queue: str | None = None, limit: int = 100) -> list[DeadLetterOut]:
    """Dead-lettered messages, newest first (of one queue, or of every declared queue)."""
    broker = _redis_broker()
    if broker is None:
        return []
    return await asyncio.to_thread(_list_sync, broker, queue, limit)


async def requeue(queue: str, dead_id: str) -> RequeuedOut:
    broker = _redis_broker()
    if broker is None:
        raise DeadLetterNotFound()
    return await asyncio.to_thread(_requeue_sync, broker, queue, dead_id)


async def queue_lengths() -> list[QueueOut]:
    """Ready, delayed and dead messages per declared queue (all zero without a Redis broker)."""
    broker = _redis_broker()
    if broker is None:
        return [QueueOut(name=q, ready=0, delayed=0, dead=0) for q in _queues(current_broker())]
    return await asyncio.to_thread(_lengths_sync, broker)
