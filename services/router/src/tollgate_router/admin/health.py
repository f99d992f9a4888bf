"""``GET /admin/deployments/health``: every deployment's cooldown state as all replicas see it.

Only what Redis holds is reported: the cooldown keys (``<prefix>cooldown:<deployment id>`` with a
TTL) that any replica writes after ``cooldown_after_failures`` consecutive retryable failures. The
failure counts, in-flight calls and latencies behind that decision are per process
(``DeploymentStats``) and are deliberately not reported: one replica's view would mislead. The read
reuses :class:`~tollgate_router.chat.routing.Cooldowns` (one pipelined ``PTTL`` per deployment), so
the key layout lives in one place.
"""

from __future__ import annotations

import math
import uuid

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from redis.asyncio import Redis

from tollgate_router.catalog.service import CatalogAdmin
from tollgate_router.chat.routing import Cooldowns


class DeploymentHealthOut(msgspec.Struct):
    id: uuid.UUID
    model_name: str
    provider_id: uuid.UUID
    enabled: bool
    cooling_down: bool
    cooldown_remaining_s: int


class DeploymentHealth:
    """Reads cooldowns straight from Redis at request time (not this replica's polled copy)."""

    def __init__(self, *, redis: Redis, prefix: str, catalog_admin: CatalogAdmin) -> None:
        self._redis = redis
        self._prefix = prefix
        self._catalog_admin = catalog_admin

    async def list_health(self) -> list[DeploymentHealthOut]:
        deployments = await self._catalog_admin.list_deployments(None)
        ids = [d.id for d in deployments]

        async def deployment_ids() -> list[uuid.UUID]:
            return ids

        cooldowns = Cooldowns(self._redis, prefix=self._prefix, poll_s=0, deployment_ids=deployment_ids)
        await cooldowns.refresh()
        return [
            DeploymentHealthOut(
                id=d.id,
                model_name=d.model_name,
                provider_id=d.provider_id,
                enabled=d.enabled,
                cooling_down=cooldowns.cooling(d.id),
                cooldown_remaining_s=math.ceil(cooldowns.remaining_s(d.id)),
            )
            for d in deployments
        ]


class DeploymentHealthController(Controller):
    path = "/deployments/health"
    tags = ["admin: deployments"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/")
    async def list_all(
        self, deployment_health: NamedDependency[DeploymentHealth]
    ) -> list[DeploymentHealthOut]:
        return await deployment_health.list_health()
