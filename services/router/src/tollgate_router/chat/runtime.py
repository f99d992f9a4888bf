"""The data plane's long-lived resources, owned by the app lifespan (created once, closed in finally):
the upstream HTTP client (``providers.http.UpstreamClient``, ``app.state.upstream``), the provider
adapters, the cooldown poller and ``app.state.chat``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from uuid import UUID

from litestar import Litestar

from tollgate_router.catalog.service import Catalog
from tollgate_router.chat.metrics import DataPlaneMetrics
from tollgate_router.chat.routing import Cooldowns
from tollgate_router.chat.service import ChatService
from tollgate_router.providers.registry import ProviderRegistry, make_upstream_client
from tollgate_router.settings import RouterSettings

__all__ = ["data_plane_lifespan"]


def _deployment_ids(catalog: Catalog) -> Callable[[], Awaitable[list[UUID]]]:
    async def ids() -> list[UUID]:
        found: list[UUID] = []
        for model in await catalog.model_names():
            found.extend(d.id for d in await catalog.deployments(model))
        return found

    return ids


@asynccontextmanager
async def data_plane_lifespan(app: Litestar) -> AsyncIterator[None]:
    """Needs ``settings``, ``redis``, ``metrics`` and the control plane's ``key_auth``, ``catalog``,
    ``limiter``, ``response_cache`` and ``spend_log`` in ``app.state`` (set before this runs)."""
    state = app.state
    settings: RouterSettings = state.settings
    upstream = settings.upstream
    client = make_upstream_client(
        pool_limit=upstream.pool_limit,
        pool_limit_per_host=upstream.pool_limit_per_host,
        connect_timeout_s=upstream.connect_timeout_s,
    )
    state.upstream = client
    cooldowns = Cooldowns(
        state.redis,
        prefix=settings.redis.prefix,
        poll_s=settings.routing.cooldown_poll_s,
        deployment_ids=_deployment_ids(state.catalog),
    )
    state.chat = ChatService(
        key_auth=state.key_auth,
        catalog=state.catalog,
        limiter=state.limiter,
        cache=state.response_cache,
        spend_log=state.spend_log,
        providers=ProviderRegistry(client, max_read_timeout_s=upstream.read_timeout_s),
        cooldowns=cooldowns,
        metrics=DataPlaneMetrics(state.metrics.registry),
        routing=settings.routing,
        max_body_bytes=settings.security.max_body_bytes,
    )
    cooldowns.start()
    try:
        yield
    finally:
        await state.chat.close()
        await cooldowns.stop()
        await client.close()
