"""Fixtures for api integration tests: settings, a fake router admin API, admin clients, row builders.

* ``api_settings``: ApiSettings for the test's database and Redis prefix, with an encryption keyring
  and a bootstrap admin (``ADMIN_EMAIL`` / ``ADMIN_PASSWORD``).
* ``fake_router``: the router admin API as an ``httpx.MockTransport`` (virtual keys in memory);
  pass ``fake_router.transport`` to ``create_app(settings, router_transport=...)``.
* ``api_app`` / ``admin``: the app, and an ``AsyncTestClient`` logged in as the bootstrap admin.
* ``tenancy``: builds an organization, a plan, a model group + access group and a team with credits
  through the admin API (:class:`Tenancy`).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tollgate_api.app import create_app
from tollgate_api.settings import ApiSettings
from tollgate_common import db as dbmod
from tollgate_common.crypto import Keyring
from tollgate_common.env import Env

ADMIN_EMAIL = "admin@example.test"
ADMIN_PASSWORD = "correct horse battery staple"
ROUTER_ADMIN_TOKEN = "test-router-admin-token"
ENCRYPTION_KEYS = Keyring.new_key_setting("t1")


def make_api_settings(database_url: str, redis_url: str, redis_prefix: str, **extra: str) -> ApiSettings:
    env = {
        "TOLLGATE_DATABASE_URL": database_url,
        "TOLLGATE_REDIS_URL": redis_url,
        "TOLLGATE_REDIS_PREFIX": redis_prefix,
        "TOLLGATE_MIGRATE_ON_START": "false",
        "TOLLGATE_DATABASE_POOL_MIN": "1",
        "TOLLGATE_ROUTER_URL": "http://router.test",
        "TOLLGATE_ROUTER_ADMIN_TOKEN": ROUTER_ADMIN_TOKEN,
        "TOLLGATE_API_ENCRYPTION_KEYS": ENCRYPTION_KEYS,
        "TOLLGATE_BOOTSTRAP_ADMIN_EMAIL": ADMIN_EMAIL,
        "TOLLGATE_BOOTSTRAP_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "TOLLGATE_LOG_FORMAT": "json",
        "TOLLGATE_ACCESS_LOG": "false",
    }
    env.update(extra)
    return ApiSettings.from_env(Env(env))


@dataclass
class FakeRouterAdmin:
    """The router admin API's virtual-key endpoints, in memory (the real router is tested elsewhere)."""

    keys: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, Any]] = field(default_factory=list)
    fail: bool = False

    def handle(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.requests.append((request.method, request.url.path, body))
        if request.headers.get("authorization") != f"Bearer {ROUTER_ADMIN_TOKEN}":
            return httpx.Response(401, json={"type": "unauthorized"})
        if self.fail:
            return httpx.Response(503, json={"type": "unavailable"})
        path = request.url.path
        if request.method == "POST" and path == "/admin/keys":
            key_id = str(uuid.uuid4())
            secret = "tgv_" + uuid.uuid4().hex
            self.keys[key_id] = {**body, "id": key_id, "secret": secret}
            return httpx.Response(201, json={**body, "id": key_id, "key": secret})
        if request.method == "PATCH" and path.startswith("/admin/keys/"):
            key_id = path.rsplit("/", 1)[1]
            if key_id not in self.keys:
                return httpx.Response(404, json={"type": "not-found"})
            self.keys[key_id].update(body)
            return httpx.Response(
                200, json={"id": key_id, **{k: v for k, v in self.keys[key_id].items() if k != "secret"}}
            )
        return httpx.Response(404, json={"type": "not-found"})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def key_of_team(self, team_id: object) -> dict[str, Any]:
        for key in self.keys.values():
            if key["owner_ref"] == f"team:{team_id}":
                return key
        raise KeyError(team_id)


@pytest.fixture
def fake_router() -> FakeRouterAdmin:
    return FakeRouterAdmin()


@pytest.fixture
def api_settings(database_url: str, redis_url: str, redis_prefix: str) -> ApiSettings:
    return make_api_settings(database_url, redis_url, redis_prefix)


def build_app(settings: ApiSettings, transport: httpx.AsyncBaseTransport) -> Litestar:
    return create_app(settings, router_transport=transport)


@pytest.fixture
def api_app(api_settings: ApiSettings, fake_router: FakeRouterAdmin) -> Litestar:
    return build_app(api_settings, fake_router.transport)


async def login(client: AsyncTestClient[Litestar], email: str, password: str) -> str:
    response = await client.post("/admin/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    client.cookies.clear()
    return token


@pytest.fixture
async def admin(api_app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(api_app) as client:
        token = await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
        client.headers["authorization"] = f"Bearer {token}"
        yield client


@dataclass
class Tenancy:
    """Builds tenancy rows through the admin API, taking only what a test cares about."""

    client: AsyncTestClient[Litestar]

    async def ok(self, method: str, path: str, body: Any = None, status: int | None = None) -> Any:
        response = await self.client.request(method, path, json=body)
        expected = status or (201 if method == "POST" else 200)
        assert response.status_code == expected, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def organization(self, name: str | None = None) -> dict[str, Any]:
        result: dict[str, Any] = await self.ok(
            "POST", "/admin/organizations", {"name": name or f"org-{uuid.uuid4().hex[:8]}"}
        )
        return result

    async def plan(self, **fields: Any) -> dict[str, Any]:
        body = {
            "name": f"plan-{uuid.uuid4().hex[:8]}",
            "kind": "per_job",
            "credits_per_job": 10,
            "usd_micro_per_credit": 10_000,
            **fields,
        }
        result: dict[str, Any] = await self.ok("POST", "/admin/pricing-plans", body)
        return result

    async def model_group(
        self, name: str | None = None, router_model: str = "fake-gpt", **fields: Any
    ) -> dict[str, Any]:
        body = {"name": name or f"mg-{uuid.uuid4().hex[:8]}", "router_model": router_model, **fields}
        result: dict[str, Any] = await self.ok("POST", "/admin/model-groups", body)
        return result

    async def access_group(self, model_groups: list[str], name: str | None = None) -> dict[str, Any]:
        body = {"name": name or f"ag-{uuid.uuid4().hex[:8]}", "model_groups": model_groups}
        result: dict[str, Any] = await self.ok("POST", "/admin/access-groups", body)
        return result

    async def team(
        self,
        *,
        credits: int = 0,
        plan: dict[str, Any] | None = None,
        access_groups: list[str] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        org = await self.organization()
        plan = plan or await self.plan()
        body = {
            "organization_id": org["id"],
            "name": f"team-{uuid.uuid4().hex[:8]}",
            "pricing_plan_id": plan["id"],
            "access_groups": access_groups or [],
            **fields,
        }
        team: dict[str, Any] = await self.ok("POST", "/admin/teams", body)
        if credits:
            await self.ok(
                "POST",
                f"/admin/teams/{team['id']}/credits",
                {"amount": credits, "reason": "test", "idempotency_key": f"seed-{uuid.uuid4()}"},
            )
        return team


@pytest.fixture
def tenancy(admin: AsyncTestClient[Litestar]) -> Tenancy:
    return Tenancy(admin)


@dataclass(frozen=True)
class AdminCredentials:
    email: str = ADMIN_EMAIL
    password: str = ADMIN_PASSWORD


@pytest.fixture
def admin_credentials() -> AdminCredentials:
    """The bootstrap admin of ``api_settings`` (test modules cannot import this conftest)."""
    return AdminCredentials()


@pytest.fixture
def operator_login(admin: AsyncTestClient[Litestar]) -> Any:
    """``await operator_login(email, password)`` → a session token (the cookie jar is left empty)."""

    async def _login(email: str, password: str) -> str:
        return await login(admin, email, password)

    return _login


@pytest.fixture
def app_factory(api_settings: ApiSettings, fake_router: FakeRouterAdmin) -> Any:
    """``app_factory()`` → another api app on the same database, Redis and fake router (a replica)."""
    return lambda: build_app(api_settings, fake_router.transport)


@pytest.fixture
async def pool(api_settings: ApiSettings) -> AsyncIterator[Any]:
    """A pool opened in the test's own event loop, for calling service functions directly.

    (The app's pool belongs to the loop its lifespan runs in; the test client may run that elsewhere.)
    """
    test_pool = dbmod.make_pool(api_settings.database.url, min_size=1, max_size=20, name="test")
    await test_pool.open(wait=True)
    try:
        yield test_pool
    finally:
        await test_pool.close()
