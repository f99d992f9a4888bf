"""A real router app (real Postgres, real Redis, fake providers on loopback) seeded through /admin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from litestar import Litestar

from tests.fakes import FakeOpenAI
from tollgate_common.crypto import Keyring
from tollgate_common.env import Env
from tollgate_router.app import create_app
from tollgate_router.errors import ModelNotFound
from tollgate_router.settings import RouterSettings

ADMIN_TOKEN = "test-admin-token"
KEK = Keyring.new_key_setting("k1")


def router_settings(database_url: str, redis_url: str, prefix: str, **env: str) -> RouterSettings:
    values = {
        "TOLLGATE_DATABASE_URL": database_url,
        "TOLLGATE_REDIS_URL": redis_url,
        "TOLLGATE_REDIS_PREFIX": prefix,
        "TOLLGATE_MIGRATE_ON_START": "false",
        "TOLLGATE_ROUTER_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLGATE_ROUTER_ENCRYPTION_KEYS": KEK,
        "TOLLGATE_LOG_FORMAT": "json",
        "TOLLGATE_LOG_LEVEL": "WARNING",
        "TOLLGATE_ACCESS_LOG": "false",
        "TOLLGATE_ROUTER_BACKOFF_BASE_S": "0.01",
        "TOLLGATE_ROUTER_BACKOFF_MAX_S": "0.05",
        "TOLLGATE_ROUTER_COOLDOWN_POLL_S": "0.05",
    }
    values.update({f"TOLLGATE_{k}": v for k, v in env.items()})
    return RouterSettings.from_env(Env(values))


@dataclass
class Router:
    app: Litestar
    client: httpx.AsyncClient
    database_url: str

    async def admin(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.client.request(
            method, path, json=json, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert response.status_code < 300, (path, response.status_code, response.text)
        return response.json() if response.content else None

    async def provider(
        self, kind: str, *, base_url: str | None = None, api_key: str | None = None, **settings: Any
    ) -> str:
        body: dict[str, Any] = {
            "name": f"{kind}-{len(await self.admin('GET', '/admin/providers'))}",
            "kind": kind,
        }
        if base_url is not None:
            body["base_url"] = base_url
        if api_key is not None:
            body["api_key"] = api_key
        if settings:
            body["settings"] = settings
        created = await self.admin("POST", "/admin/providers", body)
        return str(created["id"])

    async def deployment(self, model_name: str, provider_id: str, upstream_model: str, **fields: Any) -> str:
        body = {"model_name": model_name, "provider_id": provider_id, "upstream_model": upstream_model}
        body.update(fields)
        created = await self.admin("POST", "/admin/deployments", body)
        await self.catalog_sees(lambda: self._has_deployment(model_name, str(created["id"])))
        return str(created["id"])

    async def _has_deployment(self, model_name: str, deployment_id: str) -> bool:
        try:
            found = await self.app.state.catalog.deployments(model_name)
        except ModelNotFound:
            return False
        return any(str(d.id) == deployment_id for d in found)

    async def catalog_sees(self, check: Callable[[], Awaitable[bool]]) -> None:
        """Wait until this replica's catalog snapshot shows a change (it polls every 0.5 s)."""
        for _ in range(100):
            await self.app.state.catalog.refresh()
            if await check():
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the catalog never showed the change")

    async def fallbacks(self, model_name: str, *fallback_models: str) -> None:
        await self.admin("PUT", f"/admin/fallbacks/{model_name}", {"fallback_models": list(fallback_models)})

        async def visible() -> bool:
            return list(await self.app.state.catalog.fallbacks(model_name)) == list(fallback_models)

        await self.catalog_sees(visible)

    async def key(self, owner_ref: str = "team-a", **fields: Any) -> str:
        created = await self.admin("POST", "/admin/keys", {"owner_ref": owner_ref, **fields})
        return str(created["key"])

    async def chat(
        self, key: str, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {key}", **(headers or {})}
        )

    async def spend_rows(self) -> list[dict[str, Any]]:
        """Every spend-log row, after flushing the buffer."""
        await self.app.state.chat.settle_pending()
        await self.app.state.spend_log.flush_once()
        async with await psycopg.AsyncConnection.connect(self.database_url) as conn:
            cursor = await conn.execute(
                "SELECT request_id, model, deployment_id, prompt_tokens, completion_tokens, cached_tokens,"
                " cache_write_tokens, cost_micro_usd, status, cache_hit, error_kind"
                " FROM router.spend_log ORDER BY created_at"
            )
            names = [c.name for c in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in await cursor.fetchall()]


@asynccontextmanager
async def lifespan_of(app: Litestar) -> AsyncIterator[None]:
    """Run the app's lifespan in one task of this loop (its cancel scopes must exit where they entered)."""
    started, stop = asyncio.Event(), asyncio.Event()

    async def run() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(run())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()
    try:
        yield
    finally:
        stop.set()
        await task


StartRouter = Callable[..., AbstractAsyncContextManager[Router]]


@pytest.fixture
def start_router(database_url: str, redis_url: str, redis_prefix: str) -> StartRouter:
    """``async with start_router(ROUTER_COOLDOWN_S="5") as router:`` — env overrides without the
    ``TOLLGATE_`` prefix. Several routers started from one test share the database and Redis prefix
    (replicas of one deployment)."""

    @asynccontextmanager
    async def start(**env: str) -> AsyncIterator[Router]:
        app = create_app(router_settings(database_url, redis_url, redis_prefix, **env))
        # Lifespan and requests on the test's own event loop (litestar's AsyncTestClient runs the
        # lifespan on a portal thread's loop, which the lifespan's upstream client/tasks must not cross).
        transport = httpx.ASGITransport(app=app)
        async with (
            lifespan_of(app),
            httpx.AsyncClient(transport=transport, base_url="http://router.test", timeout=30) as client,
        ):
            yield Router(app=app, client=client, database_url=database_url)

    return start


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    """A fake OpenAI upstream on loopback (tests.fakes): script it with ``fake.push(...)``."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
async def router(start_router: StartRouter) -> AsyncIterator[Router]:
    async with start_router() as started:
        yield started
