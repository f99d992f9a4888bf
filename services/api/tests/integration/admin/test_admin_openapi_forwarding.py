"""The admin API is documented in the OpenAPI schema, and providers/deployments are forwarded to the
router admin API without ever exposing a provider key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from litestar import Litestar

from tollgate_api.app import create_app
from tollgate_common.env import Env
from tollgate_router.app import create_app as create_router
from tollgate_router.settings import RouterSettings


async def test_openapi_documents_every_admin_route(api_app: Litestar, admin: Any) -> None:
    response = await admin.get("/schema/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/admin/auth/login",
        "/admin/teams",
        "/admin/teams/{team_id}/credits",
        "/admin/teams/{team_id}/keys",
        "/admin/model-groups",
        "/admin/access-groups",
        "/admin/pricing-plans",
        "/admin/audit-log",
        "/admin/users",
        "/admin/organizations",
        "/admin/tokens",
    ):
        assert path in paths, path
    for path in (
        "/admin/teams",
        "/admin/teams/{team_id}/credits",
        "/admin/pricing-plans",
        "/admin/model-groups",
    ):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]
        assert body["schema"]["examples"], path


@asynccontextmanager
async def running_lifespan(app: Any) -> AsyncIterator[None]:
    """Drive an ASGI app's lifespan protocol in the current event loop."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def receive() -> dict[str, Any]:
        return await inbox.get()

    async def send(message: dict[str, Any]) -> None:
        await outbox.put(message)

    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    )
    await inbox.put({"type": "lifespan.startup"})
    started = await outbox.get()
    assert started["type"] == "lifespan.startup.complete", started
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await outbox.get()
        await task


@pytest.fixture
async def router_admin_transport(database_url: str, redis_url: str, redis_prefix: str) -> AsyncIterator[Any]:
    """The real router app in process; skipped while it has no /admin/providers yet."""
    settings = RouterSettings.from_env(
        Env(
            {
                "TOLLGATE_DATABASE_URL": database_url,
                "TOLLGATE_REDIS_URL": redis_url,
                "TOLLGATE_REDIS_PREFIX": redis_prefix + "router:",
                "TOLLGATE_MIGRATE_ON_START": "false",
                "TOLLGATE_ROUTER_ADMIN_TOKEN": "test-router-admin-token",
                "TOLLGATE_ROUTER_ENCRYPTION_KEYS": "k1:" + "A" * 43,
                "TOLLGATE_LOG_FORMAT": "json",
            }
        )
    )
    router = create_router(settings)
    if not any(r.path.startswith("/admin/providers") for r in router.routes):
        pytest.skip("the router admin API has no /admin/providers yet")
    async with running_lifespan(router):  # in this loop, so the router's pool and Redis live here
        yield httpx.ASGITransport(app=router)


async def test_providers_are_forwarded_and_never_show_keys(
    router_admin_transport: Any, api_settings: Any
) -> None:
    secret = "sk-test-" + "s" * 40
    app = create_app(api_settings, router_transport=router_admin_transport)
    async with (
        running_lifespan(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test") as client,
    ):
        login = await client.post(
            "/admin/auth/login",
            json={"email": "admin@example.test", "password": "correct horse battery staple"},
        )
        client.headers["authorization"] = f"Bearer {login.json()['token']}"
        client.cookies.clear()
        created = await client.post(
            "/admin/providers", json={"name": "openai-main", "kind": "openai", "api_key": secret}
        )
        assert created.status_code in (200, 201), created.text
        audit = (await client.get("/admin/audit-log", params={"target_type": "providers"})).json()
        assert [a["action"] for a in audit] == ["router.post"]
        assert audit[0]["before"]["request"]["name"] == "openai-main"
        listed = await client.get("/admin/providers")
        assert listed.status_code == 200
        for response in (
            created,
            listed,
            await client.get("/admin/deployments"),
            await client.get("/admin/audit-log"),
        ):
            assert secret not in response.text
            assert secret[-8:] not in response.text
