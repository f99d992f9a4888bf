"""Choosing a deployment: strategies, per-process stats, and cooldowns shared through Redis.

Strategies (``settings.routing_strategy`` of a model's first deployment, else
``TOLLGATE_ROUTER_STRATEGY``):

* ``weighted`` (default): random choice proportional to ``weight`` (all zero: uniform);
* ``least_busy``: fewest calls in flight in this process (ties: random);
* ``lowest_latency``: lowest moving average of upstream latency in this process (unmeasured first).

Cooldowns: after ``cooldown_after_failures`` consecutive retryable failures (per process) a deployment
is put in cooldown for ``cooldown_s`` (or the provider's longer ``Retry-After``) by writing
``<prefix>cooldown:<deployment id>`` with that TTL. Every replica polls those keys for the catalog's
deployments every ``cooldown_poll_s`` (one pipelined round trip, off the request path), so a cooldown
reaches all replicas within that interval and the request path never waits on Redis for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Protocol, TypeVar
from uuid import UUID

import structlog
from redis.asyncio import Redis

__all__ = ["STRATEGIES", "Cooldowns", "DeploymentStats", "pick"]

_log = structlog.get_logger("tollgate.router.routing")

STRATEGIES = ("weighted", "least_busy", "lowest_latency")
_EWMA_ALPHA = 0.2


class Routable(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def weight(self) -> int: ...


R = TypeVar("R", bound=Routable)


class DeploymentStats:
    """In-process load and latency per deployment (good enough for least_busy / lowest_latency)."""

    def __init__(self) -> None:
        self.in_flight: dict[UUID, int] = {}
        self.latency: dict[UUID, float] = {}
        self.failures: dict[UUID, int] = {}

    def started(self, deployment_id: UUID) -> None:
        self.in_flight[deployment_id] = self.in_flight.get(deployment_id, 0) + 1

    def finished(self, deployment_id: UUID) -> None:
        self.in_flight[deployment_id] = max(0, self.in_flight.get(deployment_id, 1) - 1)

    def succeeded(self, deployment_id: UUID, latency_s: float) -> None:
        self.failures.pop(deployment_id, None)
        previous = self.latency.get(deployment_id)
        self.latency[deployment_id] = (
            latency_s if previous is None else previous + _EWMA_ALPHA * (latency_s - previous)
        )

    def failed(self, deployment_id: UUID) -> int:
        """Count a retryable failure; returns the consecutive count."""
        count = self.failures.get(deployment_id, 0) + 1
        self.failures[deployment_id] = count
        return count


def pick(strategy: str, candidates: Sequence[R], stats: DeploymentStats) -> R:
    if len(candidates) == 1:
        return candidates[0]
    if strategy == "least_busy":
        low = min(stats.in_flight.get(d.id, 0) for d in candidates)
        return random.choice([d for d in candidates if stats.in_flight.get(d.id, 0) == low])  # noqa: S311
    if strategy == "lowest_latency":
        low_latency = min(stats.latency.get(d.id, 0.0) for d in candidates)
        return random.choice(  # noqa: S311
            [d for d in candidates if stats.latency.get(d.id, 0.0) == low_latency]
        )
    weights = [max(0, d.weight) for d in candidates]
    if not any(weights):
        return random.choice(candidates)  # noqa: S311
    return random.choices(candidates, weights=weights)[0]  # noqa: S311


class Cooldowns:
    """Which deployments are cooling down, as every replica agrees through Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        poll_s: float,
        deployment_ids: Callable[[], Awaitable[Iterable[UUID]]],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redis = redis
        self._prefix = prefix + "cooldown:"
        self._poll_s = poll_s
        self._deployment_ids = deployment_ids
        self._clock = clock
        self._until: dict[UUID, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def key(self, deployment_id: UUID) -> str:
        return f"{self._prefix}{deployment_id}"

    def cooling(self, deployment_id: UUID) -> bool:
        until = self._until.get(deployment_id)
        return until is not None and until > self._clock()

    def remaining_s(self, deployment_id: UUID) -> float:
        return max(0.0, self._until.get(deployment_id, 0.0) - self._clock())

    async def cool(self, deployment_id: UUID, seconds: float) -> None:
        """Start (or extend) a cooldown here and, through Redis, on every replica."""
        ms = max(1, int(seconds * 1000))
        self._until[deployment_id] = max(self._until.get(deployment_id, 0.0), self._clock() + ms / 1000)
        try:
            await self._redis.set(self.key(deployment_id), b"1", px=ms)
        except Exception as exc:  # Redis down: the cooldown still holds on this replica
            _log.warning("cooldown_publish_failed", error=type(exc).__name__)

    async def refresh(self) -> None:
        """Read every known deployment's cooldown TTL from Redis (one pipelined round trip)."""
        ids = list(await self._deployment_ids())
        if not ids:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for deployment_id in ids:
                pipe.pttl(self.key(deployment_id))
            ttls = await pipe.execute()
        now = self._clock()
        for deployment_id, ttl in zip(ids, ttls, strict=True):
            if isinstance(ttl, int) and ttl > 0:
                self._until[deployment_id] = now + ttl / 1000
            else:
                self._until.pop(deployment_id, None)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.refresh()
            except Exception as exc:  # keep polling; the last known state stays in force
                _log.warning("cooldown_refresh_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._poll_s)

    def start(self) -> None:
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="tollgate-cooldown-poll")

    async def stop(self) -> None:
        """Stop polling. The poller is asked to finish rather than cancelled: redis-py can lose a
        cancellation that lands mid-command, which would hang the shutdown."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), 10)
        except TimeoutError:
            task.cancel()
