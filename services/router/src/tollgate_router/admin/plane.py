"""Builds the control plane's long-lived services and the guarded ``/admin`` router.

``app.create_app`` calls :func:`build_control_plane`, puts :meth:`ControlPlane.state` into ``app.state``
(``catalog``, ``key_auth``, ``limiter``, ``response_cache``, ``spend_log`` for the data plane, plus the
admin services), mounts :attr:`ControlPlane.router`, and calls ``start``/``stop`` from its lifespan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Router
from litestar.di import Provide
from prometheus_client import CollectorRegistry
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from redis.asyncio import Redis

from tollgate_common.crypto import Keyring
from tollgate_common.env import SettingsError
from tollgate_router.admin.health import DeploymentHealth, DeploymentHealthController
from tollgate_router.auth import admin_guard
from tollgate_router.cache.service import ResponseCache
from tollgate_router.catalog.controllers import DeploymentController, FallbackController, ProviderController
from tollgate_router.catalog.service import Catalog, CatalogAdmin
from tollgate_router.keys.controllers import KeyController
from tollgate_router.keys.service import KeyAdmin, KeyAuth
from tollgate_router.limits.service import Limiter
from tollgate_router.limits.wire import runner_for
from tollgate_router.settings import RouterSettings
from tollgate_router.spend.controllers import SpendController
from tollgate_router.spend.service import SpendAdmin, SpendLog

Pool = AsyncConnectionPool[AsyncConnection[Any]]


def keyring_from(settings: RouterSettings) -> Keyring | None:
    """The provider-key keyring, or None when ``TOLLGATE_ROUTER_ENCRYPTION_KEYS`` is unset."""
    value = settings.security.encryption_keys.get()
    if not value:
        return None
    try:
        return Keyring.from_setting(value)
    except (ValueError, TypeError) as exc:
        raise SettingsError(
            "TOLLGATE_ROUTER_ENCRYPTION_KEYS must be 'kid:base64key[,kid:base64key]' with 32-byte keys"
        ) from exc


@dataclass(slots=True)
class ControlPlane:
    catalog: Catalog
    key_auth: KeyAuth
    limiter: Limiter
    response_cache: ResponseCache
    spend_log: SpendLog
    catalog_admin: CatalogAdmin
    key_admin: KeyAdmin
    spend_admin: SpendAdmin
    router: Router

    def state(self) -> dict[str, Any]:
        return {
            "catalog": self.catalog,
            "key_auth": self.key_auth,
            "limiter": self.limiter,
            "response_cache": self.response_cache,
            "spend_log": self.spend_log,
            "catalog_admin": self.catalog_admin,
            "key_admin": self.key_admin,
            "spend_admin": self.spend_admin,
        }

    async def start(self) -> None:
        await self.spend_log.start()

    async def stop(self) -> None:
        await self.spend_log.stop()
        await self.limiter.aclose()


def build_control_plane(
    settings: RouterSettings,
    *,
    pool: Pool,
    redis: Redis,
    registry: CollectorRegistry | None = None,
    limit_window_s: float = 60.0,
) -> ControlPlane:
    prefix = settings.redis.prefix
    keyring = keyring_from(settings)
    runner = runner_for(settings.redis.url, redis)  # None: the limits scripts go through redis-py
    limiter = Limiter(redis=redis, prefix=prefix, window_s=limit_window_s, runner=runner)
    key_admin = KeyAdmin(pool=pool, redis=redis, prefix=prefix, limiter=limiter)
    spend_admin = SpendAdmin(pool=pool, limiter=limiter, keys=key_admin)
    key_admin.logged_spend = spend_admin.period_spend
    catalog = Catalog(pool=pool, redis=redis, prefix=prefix, keyring=keyring)
    # this replica sees its own admin changes at once; others within the version-check interval
    catalog_admin = CatalogAdmin(
        pool=pool, redis=redis, prefix=prefix, keyring=keyring, on_change=catalog.refresh
    )

    def provide_catalog_admin() -> CatalogAdmin:
        return catalog_admin

    def provide_key_admin() -> KeyAdmin:
        return key_admin

    def provide_spend_admin() -> SpendAdmin:
        return spend_admin

    deployment_health = DeploymentHealth(redis=redis, prefix=prefix, catalog_admin=catalog_admin)

    def provide_deployment_health() -> DeploymentHealth:
        return deployment_health

    router = Router(
        path="/admin",
        route_handlers=[
            ProviderController,
            DeploymentHealthController,
            DeploymentController,
            FallbackController,
            KeyController,
            SpendController,
        ],
        guards=[admin_guard(settings.security.admin_token)],
        dependencies={
            "catalog_admin": Provide(provide_catalog_admin, sync_to_thread=False),
            "key_admin": Provide(provide_key_admin, sync_to_thread=False),
            "spend_admin": Provide(provide_spend_admin, sync_to_thread=False),
            "deployment_health": Provide(provide_deployment_health, sync_to_thread=False),
        },
        include_in_schema=True,
    )
    return ControlPlane(
        catalog=catalog,
        key_auth=KeyAuth(pool=pool, redis=redis, prefix=prefix),
        limiter=limiter,
        response_cache=ResponseCache(redis=redis, prefix=prefix),
        spend_log=SpendLog(pool=pool, registry=registry),
        catalog_admin=catalog_admin,
        key_admin=key_admin,
        spend_admin=spend_admin,
        router=router,
    )
