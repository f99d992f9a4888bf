"""The operator dashboard under ``/dashboard``: server-rendered Jinja2 pages with HTMX (ADR 0009).

Views only: every page reads and every action writes through the same domain services as ``/admin``,
and the app-wide ``admin_guard`` authenticates ``/dashboard`` exactly like ``/admin`` (session cookie;
finance read-only), so a hidden button is never the only guard. Templates and static files live in
``dashboard/`` at the repository root. The composition root mounts :func:`dashboard_router` and passes
:func:`template_config` to the app.
"""

from __future__ import annotations

from typing import Any

from litestar import Router
from litestar.static_files import create_static_files_router

from tollgate_api.dashboard import web
from tollgate_api.dashboard.catalog import CatalogPages
from tollgate_api.dashboard.catalog_edits import CatalogEditPages
from tollgate_api.dashboard.jobs import JobsPages
from tollgate_api.dashboard.overview import OverviewPages, ReportsPages
from tollgate_api.dashboard.people import AuditPages, UsersPages
from tollgate_api.dashboard.providers import ProvidersPages
from tollgate_api.dashboard.session import SessionController
from tollgate_api.dashboard.tenants import OrganizationsPages, TeamsPages
from tollgate_api.dashboard.webhooks import TeamWebhooksPages
from tollgate_api.errors import TollgateError

__all__ = ["dashboard_router", "template_config"]

template_config = web.template_config


def dashboard_router() -> Router:
    handlers: list[Any] = [
        SessionController,
        OverviewPages,
        OrganizationsPages,
        TeamsPages,
        TeamWebhooksPages,
        JobsPages,
        ReportsPages,
        CatalogPages,
        CatalogEditPages,
        ProvidersPages,
        AuditPages,
        UsersPages,
        create_static_files_router(
            path=web.PREFIX + "/static",
            directories=[web.dashboard_dir() / "static"],
            opt={"public": True},
            include_in_schema=False,
        ),
    ]
    return Router(
        path="/",
        route_handlers=handlers,
        before_request=web.csrf_check,
        exception_handlers={TollgateError: web.exception_handler, Exception: web.exception_handler},
        include_in_schema=False,
    )
