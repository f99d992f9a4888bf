"""Dashboard fixtures. ``dashboard()`` is an async context manager (entered in the test body, so the
app's lifespan runs in the test's own task and loop) yielding a :class:`Dash`: ``await
dash.browser(role)`` gives an httpx client that keeps cookies, logged in through the login form (CSRF
included) as the bootstrap admin or a new operator of ``role``; ``dash.world`` builds rows through
the domain services."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tollgate_api.app import create_app
from tollgate_api.audit.service import Actor
from tollgate_api.organizations import service as organizations
from tollgate_api.organizations.schemas import OrganizationIn
from tollgate_api.plans import service as plans
from tollgate_api.plans.schemas import PlanIn
from tollgate_api.settings import ApiSettings

CSRF = re.compile(r'name="_csrf" value="([^"]*)"')
PASSWORD = "a long enough passphrase"


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def log_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/dashboard/login")
    assert page.status_code == 200
    return await client.post(
        "/dashboard/login",
        data={"_csrf": csrf_of(page.text), "email": email, "password": password, "next": "/dashboard/"},
    )


async def submit(client: httpx.AsyncClient, page_url: str, action: str, **fields: Any) -> httpx.Response:
    """Post a form the way a browser does: its hidden fields (CSRF token, idempotency key) come
    from the page that shows it; fails when the page shows no such form (e.g. to finance)."""
    page = await client.get(page_url)
    assert page.status_code == 200, page.text
    form = re.search(rf'<form method="post" action="{re.escape(action)}"[^>]*>(.*?)</form>', page.text, re.S)
    assert form, f"{page_url} has no form posting to {action}"
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(1)))
    return await client.post(action, data={**hidden, **fields})


class World:
    """Rows built through the domain services (the app's pool, the test's loop)."""

    actor = Actor("test:dashboard")

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    async def plan(self) -> Any:
        data = PlanIn(
            name=f"plan-{uuid.uuid4().hex[:6]}",
            kind="per_job",
            credits_per_job=10,
            usd_micro_per_credit=10_000,
        )
        return await plans.create_plan(self.pool, self.actor, data)

    async def organization(self, name: str | None = None) -> Any:
        data = OrganizationIn(name=name or f"org-{uuid.uuid4().hex[:6]}")
        return await organizations.create_organization(self.pool, self.actor, data)


@dataclass
class Dash:
    app: Litestar
    admin_email: str
    admin_password: str
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    password = PASSWORD
    csrf_of = staticmethod(csrf_of)
    log_in = staticmethod(log_in)
    submit = staticmethod(submit)

    @property
    def world(self) -> World:
        return World(self.app.state["pool"])

    def anonymous(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://dash.test")
        self.clients.append(client)
        return client

    async def operator(self, role: str) -> str:
        """A new operator of ``role`` created through the users page; returns the email."""
        admin = await self.browser("admin")
        email = f"{role}-{uuid.uuid4().hex[:6]}@example.test"
        created = await submit(
            admin, "/dashboard/users", "/dashboard/users", email=email, password=PASSWORD, role=role
        )
        assert created.status_code == 303, created.text
        return email

    async def browser(self, role: str = "admin") -> httpx.AsyncClient:
        client = self.anonymous()
        if role == "admin":
            email, password = self.admin_email, self.admin_password
        else:
            email, password = await self.operator(role), PASSWORD
        response = await log_in(client, email, password)
        assert response.status_code == 303, response.text
        return client


@pytest.fixture
def dashboard(
    api_settings: ApiSettings, fake_router: Any, admin_credentials: Any
) -> Callable[[], AbstractAsyncContextManager[Dash]]:
    @asynccontextmanager
    async def factory() -> AsyncIterator[Dash]:
        app = create_app(api_settings, router_transport=fake_router.transport)
        async with app.lifespan():
            dash = Dash(app, admin_credentials.email, admin_credentials.password)
            try:
                yield dash
            finally:
                for client in dash.clients:
                    await client.aclose()

    return factory
