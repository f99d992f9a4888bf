"""The router's composition root: the only module that knows every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.types import ASGIApp

from tollgate_common.httpapp import (
    HttpMetrics,
    health_controller,
    metrics_handler,
    request_context_middleware,
)
from tollgate_common.logging import configure_logging
from tollgate_common.problems import document_problems, exception_handlers
from tollgate_common.resources import CoreResources
from tollgate_router.admin import build_control_plane
from tollgate_router.chat.controllers import DATA_PLANE, crash_guard, data_plane_handlers
from tollgate_router.chat.runtime import data_plane_lifespan
from tollgate_router.settings import RouterSettings

SCHEMA = "router"


class RouterApp(Litestar):
    """Litestar, with the data plane dispatched by exact path before Litestar's routing and middleware
    stack (ADR 0010): on the llm-call hot path that stack cost more CPU per call than the handler's own
    HTTP work. The dispatched handlers get the same request-id/metrics/access-log middleware, and a crash
    guard in place of Litestar's exception middleware; everything else is plain Litestar."""

    fast_paths: dict[str, ASGIApp]

    def __init__(self, *args: Any, fast_paths: dict[str, ASGIApp], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fast_paths = fast_paths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            handler = self.fast_paths.get(scope["path"])
            if handler is not None:
                scope["app"] = scope["litestar_app"] = self
                scope["path_template"] = scope["path"]
                await handler(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(settings: RouterSettings) -> Litestar:
    configure_logging(level=settings.log.level, json=settings.log.json)
    metrics = HttpMetrics("router")
    core = CoreResources.build(schema=SCHEMA, database=settings.database, redis=settings.redis)
    pool, redis = core.pool, core.redis
    # control plane: catalog, key_auth, limiter, response_cache, spend_log (+ admin services, /admin)
    control = build_control_plane(settings, pool=pool, redis=redis, registry=metrics.registry)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await core.start()
        await control.start()
        try:
            yield
        finally:
            await control.stop()
            await core.stop()

    context = request_context_middleware(metrics, access_log=settings.log.access_log)
    return RouterApp(
        fast_paths={path: context(crash_guard(handler)) for path, handler in DATA_PLANE.items()},
        route_handlers=[
            health_controller(core.checks),
            metrics_handler(metrics),
            control.router,
            *data_plane_handlers(),  # /v1/*: the data plane (tollgate_router.chat)
        ],
        # the data plane's lifespan (upstream client app.state.upstream, app.state.chat) runs second:
        # it uses the control plane's services
        lifespan=[lifespan, data_plane_lifespan],
        on_startup=[document_problems],
        middleware=[context],
        exception_handlers=exception_handlers(),
        state=State(
            {"settings": settings, "pool": pool, "redis": redis, "metrics": metrics, **control.state()}
        ),
        openapi_config=OpenAPIConfig(title="Tollgate router", version="0.1.0", path="/schema"),
        request_max_body_size=settings.security.max_body_bytes,
        debug=False,
    )


def create_app_from_env() -> Litestar:
    """Entry point for the server (``factory=True``)."""
    return create_app(RouterSettings.from_env())
