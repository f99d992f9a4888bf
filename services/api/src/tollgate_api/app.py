"""The api's composition root: the only module that knows every domain."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from tollgate_api.audit.controllers import AuditLogController
from tollgate_api.auth.guards import admin_guard
from tollgate_api.auth.keyring import keyring_from_settings
from tollgate_api.auth.revocation import Revocations
from tollgate_api.auth.team import STATE_KEY as TEAM_AUTH_STATE_KEY
from tollgate_api.auth.team import TeamAuthenticator
from tollgate_api.calls.controllers import CallsController
from tollgate_api.dashboard import dashboard_router
from tollgate_api.dashboard import template_config as dashboard_templates
from tollgate_api.jobs.admin_controllers import AdminJobsController
from tollgate_api.jobs.controllers import JOBS_STATE_KEY, JobsController, TeamUsageController
from tollgate_api.jobs.service import JobsContext
from tollgate_api.modelgroups.controllers import AccessGroupsController, ModelGroupsController
from tollgate_api.operators import service as operators_service
from tollgate_api.operators.controllers import AuthController, TokensController, UsersController
from tollgate_api.organizations.controllers import OrganizationsController
from tollgate_api.plans.controllers import PricingPlansController
from tollgate_api.reports.controllers import ReportsController
from tollgate_api.routeradmin.client import RouterAdmin
from tollgate_api.routeradmin.controllers import forward_routing_admin
from tollgate_api.routerclient import RouterClient
from tollgate_api.settings import ApiSettings
from tollgate_api.teams.controllers import TeamsController
from tollgate_api.upkeep.controllers import (
    AlertController,
    ReconciliationController,
    WorkerAdminController,
)
from tollgate_api.usage.controllers import CreditsController
from tollgate_api.webhooks.controllers import AdminWebhooksController, TeamWebhooksController
from tollgate_api.webhooks.enqueue import enqueue_due_webhooks
from tollgate_api.worker.broker import build_broker
from tollgate_api.worker.broker import install as install_broker
from tollgate_api.worker.enqueue import enqueue_aggregation
from tollgate_common.httpapp import (
    HttpMetrics,
    health_controller,
    metrics_handler,
    request_context_middleware,
)
from tollgate_common.logging import configure_logging
from tollgate_common.problems import document_problems, exception_handlers
from tollgate_common.resources import CoreResources

SCHEMA = "api"


# Tenancy and operator auth (issue 4): admin controllers; every /admin route is guarded by admin_guard.
TENANCY_HANDLERS: list[Any] = [
    AuthController,
    TokensController,
    UsersController,
    OrganizationsController,
    TeamsController,
    ModelGroupsController,
    AccessGroupsController,
    PricingPlansController,
    AuditLogController,
    forward_routing_admin,
]


def create_app(
    settings: ApiSettings, *, router_transport: httpx.AsyncBaseTransport | None = None
) -> Litestar:
    configure_logging(level=settings.log.level, json=settings.log.json)
    metrics = HttpMetrics("api")
    core = CoreResources.build(schema=SCHEMA, database=settings.database, redis=settings.redis)
    pool, redis = core.pool, core.redis
    keyring = keyring_from_settings(settings.auth)
    revocations = Revocations(redis, prefix=settings.redis.prefix)
    team_auth = TeamAuthenticator(pool, revocations, keyring, ttl_s=settings.auth.auth_cache_ttl_s)
    router_admin = RouterAdmin.from_settings(settings.router, transport=router_transport)
    # jobs: the router data-plane client (aiohttp, opened in the lifespan) and the Dramatiq broker.
    router_client = RouterClient(settings.router)
    install_broker(build_broker(settings), settings)
    jobs_ctx = JobsContext(
        pool=pool,
        router=router_client,
        settings=settings,
        enqueue_aggregation=enqueue_aggregation,
        enqueue_webhooks=enqueue_due_webhooks,
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await core.start()
        await router_client.start()
        try:
            await operators_service.bootstrap_admin(
                pool,
                email=settings.auth.bootstrap_admin_email,
                password=settings.auth.bootstrap_admin_password.get(),
            )
            yield
        finally:
            await team_auth.drain_touches()
            await router_admin.aclose()
            await router_client.close()
            await core.stop()

    return Litestar(
        route_handlers=[
            health_controller(core.checks),
            metrics_handler(metrics),
            JobsController,
            CallsController,
            TeamUsageController,
            CreditsController,
            AdminJobsController,
            ReportsController,  # issue 5: finance reports
            ReconciliationController,  # issue 5: reconciliation runs and drift
            WorkerAdminController,  # issue 5: queues and dead letters
            AlertController,  # issue 5: low-credit and budget alerts for operators
            TeamWebhooksController,
            AdminWebhooksController,
            *TENANCY_HANDLERS,
            dashboard_router(),  # issue 6: /dashboard (HTML views over the same services)
        ],
        template_config=dashboard_templates(),
        guards=[admin_guard],
        lifespan=[lifespan],
        on_startup=[document_problems],
        middleware=[request_context_middleware(metrics, access_log=settings.log.access_log)],
        exception_handlers=exception_handlers(),
        state=State(
            {
                "settings": settings,
                "pool": pool,
                "redis": redis,
                "metrics": metrics,
                JOBS_STATE_KEY: jobs_ctx,
                "keyring": keyring,
                "revocations": revocations,
                "router_admin": router_admin,
                TEAM_AUTH_STATE_KEY: team_auth,
            }
        ),
        openapi_config=OpenAPIConfig(title="Tollgate API", version="0.1.0", path="/schema"),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )


def create_app_from_env() -> Litestar:
    """Entry point for granian (``factory=True``)."""
    return create_app(ApiSettings.from_env())
