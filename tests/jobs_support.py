"""Builders for the job API tests: an api app in front of a router stand-in and a fake provider,
and a team seeded through the tenancy services (organization, plan, model group, access group,
team with its router virtual key and first API key, credits).

    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits=100)
        r = await world.client.post("/api/jobs/create", json={...}, headers=team.headers)

Service-level tests use ``world.ctx`` (a ``JobsContext``) and ``team.principal`` directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec
from aiohttp import web
from litestar import Litestar

from tests.fakes import FakeOpenAI
from tests.fakes.router_standin import RouterStandIn
from tollgate_api.app import create_app
from tollgate_api.audit.service import Actor
from tollgate_api.auth.keyring import virtual_key_aad
from tollgate_api.auth.team import TeamPrincipal
from tollgate_api.credits import service as credits
from tollgate_api.jobs.controllers import JOBS_STATE_KEY
from tollgate_api.jobs.service import JobsContext
from tollgate_api.modelgroups import service as modelgroups
from tollgate_api.modelgroups.schemas import AccessGroupIn, ModelGroupIn
from tollgate_api.organizations import service as organizations
from tollgate_api.organizations.schemas import OrganizationIn
from tollgate_api.plans import service as plans
from tollgate_api.plans.schemas import PlanIn
from tollgate_api.routeradmin.client import RouterAdmin
from tollgate_api.settings import ApiSettings
from tollgate_api.teams import service as teams
from tollgate_api.teams.schemas import TeamIn
from tollgate_common.crypto import Keyring
from tollgate_common.env import Env, Secret
from tollgate_router.app import create_app as create_router
from tollgate_router.settings import RouterSettings

GROUP = "chat-fast"
ROUTER_MODEL = "standin-router-model-x1"
ACTOR = Actor("test:jobs")

PER_JOB = PlanIn(name="per-job", kind="per_job", usd_micro_per_credit=10_000, credits_per_job=2)


def api_settings(
    database_url: str, redis_url: str, prefix: str, router: RouterStandIn, **extra: str
) -> ApiSettings:
    env = {
        "TOLLGATE_DATABASE_URL": database_url,
        "TOLLGATE_DATABASE_POOL_MAX": "30",
        "TOLLGATE_REDIS_URL": redis_url,
        "TOLLGATE_REDIS_PREFIX": prefix,
        "TOLLGATE_MIGRATE_ON_START": "false",
        "TOLLGATE_ROUTER_URL": router.base_url,
        "TOLLGATE_ROUTER_ADMIN_TOKEN": router.admin_token,
        "TOLLGATE_API_ENCRYPTION_KEYS": Keyring.new_key_setting(),
        "TOLLGATE_LOG_FORMAT": "json",
        "TOLLGATE_LOG_LEVEL": "WARNING",
        "TOLLGATE_ACCESS_LOG": "false",
        **{f"TOLLGATE_{k}": v for k, v in extra.items()},
    }
    return ApiSettings.from_env(Env(env))


@dataclass
class SeededTeam:
    team_id: uuid.UUID
    api_key: str
    principal: TeamPrincipal
    plan_id: uuid.UUID

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"}


@dataclass
class Enqueued:
    job_ids: list[uuid.UUID] = field(default_factory=list)

    async def __call__(self, job_id: uuid.UUID) -> None:
        self.job_ids.append(job_id)


@dataclass
class JobWorld:
    app: Litestar
    client: httpx.AsyncClient
    settings: ApiSettings
    router: RouterStandIn
    fake: FakeOpenAI
    enqueued: Enqueued
    base_url: str | None = None
    real: RealRouter | None = None
    _n: int = 0

    @property
    def ctx(self) -> JobsContext:
        ctx: JobsContext = self.app.state[JOBS_STATE_KEY]
        return ctx

    @property
    def pool(self) -> Any:
        return self.app.state["pool"]

    async def seed_team(
        self,
        *,
        credits_amount: int = 100,
        plan: PlanIn = PER_JOB,
        show_tokens: bool = False,
        store_prompts: bool = False,
        overdraft_limit: int = 0,
        job_ttl_s: int | None = None,
        groups: tuple[str, ...] = (GROUP,),
    ) -> SeededTeam:
        self._n += 1
        n = f"{self._n}-{uuid.uuid4().hex[:6]}"
        pool = self.pool
        org = await organizations.create_organization(pool, ACTOR, OrganizationIn(name=f"org-{n}"))
        plan_out = await plans.create_plan(
            pool, ACTOR, msgspec.structs.replace(plan, name=f"{plan.name}-{n}")
        )
        names = []
        for group in groups:
            name = group
            existing = {g.name for g in await modelgroups.list_model_groups(pool)}
            if name not in existing:
                await modelgroups.create_model_group(
                    pool, ACTOR, ModelGroupIn(name=name, router_model=ROUTER_MODEL)
                )
            names.append(name)
        access = await modelgroups.create_access_group(
            pool, ACTOR, AccessGroupIn(name=f"ag-{n}", model_groups=names)
        )
        router_admin = RouterAdmin.from_settings(self.settings.router)
        try:
            created = await teams.create_team(
                pool,
                router_admin,
                Keyring.from_setting(self.settings.auth.encryption_keys.get()),
                ACTOR,
                TeamIn(
                    organization_id=org.id,
                    name=f"team-{n}",
                    pricing_plan_id=plan_out.id,
                    overdraft_limit=overdraft_limit,
                    job_ttl_s=job_ttl_s,
                    show_tokens=show_tokens,
                    store_prompts=store_prompts,
                    access_groups=[access.id],
                ),
            )
        finally:
            await router_admin.aclose()
        if credits_amount:
            await credits.record_movement(
                pool,
                ACTOR,
                team_id=created.team_id,
                amount=credits_amount,
                kind="allocation",
                reason="test credits",
                idempotency_key=f"seed-{created.team_id}",
            )
        async with pool.connection() as conn:
            loaded_plan = await plans.load_plan(conn, plan_out.id)
            cur = await conn.execute(
                "SELECT virtual_key_encrypted FROM api.teams WHERE id = %s", (created.team_id,)
            )
            row = await cur.fetchone()
        assert row is not None
        ring = Keyring.from_setting(self.settings.auth.encryption_keys.get())
        virtual_key = ring.decrypt(row[0], associated=virtual_key_aad(created.team_id))
        principal = TeamPrincipal(
            team_id=created.team_id,
            organization_id=org.id,
            key_id=created.key_id,
            status="active",
            show_tokens=show_tokens,
            plan=loaded_plan,
            virtual_key=Secret(virtual_key),
            job_ttl_s=created.job_ttl_s,
            store_prompts=store_prompts,
        )
        return SeededTeam(
            team_id=created.team_id, api_key=created.api_key, principal=principal, plan_id=plan_out.id
        )


@asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app over real HTTP on 127.0.0.1 from THIS event loop (aiohttp underneath).

    Real sockets matter for streaming: first bytes arrive before the handler ends, and a client that
    closes its connection is seen by the app (the handler is cancelled, as under granian).
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        response = web.StreamResponse()
        done = asyncio.Event()
        delivered = False
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": "http",
            "path": request.path,
            "raw_path": request.path.encode(),
            "query_string": request.query_string.encode(),
            "root_path": "",
            "headers": [
                (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in request.headers.items()
            ],
            "client": ("127.0.0.1", 0),
            "server": ("127.0.0.1", 0),
            "state": {},
        }

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            await done.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response.set_status(message["status"])
                for name, value in message.get("headers", []):
                    response.headers.add(name.decode("latin-1"), value.decode("latin-1"))
                await response.prepare(request)
            elif message["type"] == "http.response.body":
                chunk = message.get("body", b"")
                if chunk:
                    await response.write(chunk)
                if not message.get("more_body"):
                    await response.write_eof()
                    done.set()  # like a real server: once the response ended, receive() says disconnect

        try:
            await app(scope, receive, send)
        finally:
            done.set()
        return response

    server_app = web.Application()
    server_app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(server_app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


UPSTREAM_MODEL = "gpt-4o-mini-upstream-e2e"


@dataclass(frozen=True)
class RealRouter:
    url: str
    admin_token: str
    provider_id: str
    deployment_id: str


PROVIDER_NAME = "openai-e2e-provider"
PROVIDER_KEY = "sk-e2e-provider-secret-key"


@asynccontextmanager
async def real_router(
    database_url: str, redis_url: str, redis_prefix: str, fake: FakeOpenAI
) -> AsyncIterator[RealRouter]:
    """tollgate-router's real app over loopback HTTP (same event loop), with one OpenAI-compatible
    provider pointing at ``fake`` and one deployment serving ``ROUTER_MODEL``.
    """
    token = "e2e-router-admin-token"
    settings = RouterSettings.from_env(
        Env(
            {
                "TOLLGATE_DATABASE_URL": database_url,
                "TOLLGATE_REDIS_URL": redis_url,
                "TOLLGATE_REDIS_PREFIX": redis_prefix + "router:",
                "TOLLGATE_MIGRATE_ON_START": "false",
                "TOLLGATE_ROUTER_ADMIN_TOKEN": token,
                "TOLLGATE_ROUTER_ENCRYPTION_KEYS": Keyring.new_key_setting(),
                "TOLLGATE_LOG_FORMAT": "json",
                "TOLLGATE_LOG_LEVEL": "WARNING",
                "TOLLGATE_ACCESS_LOG": "false",
            }
        )
    )
    app = create_router(settings)
    async with app.lifespan(), serve_asgi(app) as url:
        admin = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=url, headers=admin, timeout=10) as client:
            provider = await client.post(
                "/admin/providers",
                json={
                    "name": PROVIDER_NAME,
                    "kind": "openai",
                    "base_url": fake.base_url,
                    "api_key": PROVIDER_KEY,
                },
            )
            assert provider.status_code == 201, provider.text
            deployment = await client.post(
                "/admin/deployments",
                json={
                    "model_name": ROUTER_MODEL,
                    "provider_id": provider.json()["id"],
                    "upstream_model": UPSTREAM_MODEL,
                    "input_price_micro_usd_per_mtok": 150_000_000,
                    "output_price_micro_usd_per_mtok": 600_000_000,
                    "max_retries": 0,
                },
            )
            assert deployment.status_code == 201, deployment.text
        # The router's catalog notices admin changes within its check interval (500 ms).
        await asyncio.sleep(0.6)
        yield RealRouter(url, token, str(provider.json()["id"]), str(deployment.json()["id"]))


@asynccontextmanager
async def job_world(
    database_url: str,
    redis_url: str,
    redis_prefix: str,
    *,
    serve: bool = False,
    use_real_router: bool = False,
    **settings_extra: str,
) -> AsyncIterator[JobWorld]:
    """An api app whose lifespan runs in the test's own event loop (pool, router client), driven
    through ``httpx.ASGITransport`` — or over real HTTP when ``serve`` (``world.base_url``).

    The router is the stand-in (``world.router``) unless ``use_real_router``: then tollgate-router's own
    app serves on loopback in front of the same fake provider (``world.router`` is still the unused
    stand-in object; assert on ``world.fake`` instead)."""
    async with AsyncExitStack() as stack:
        fake = stack.enter_context(FakeOpenAI())
        router = stack.enter_context(RouterStandIn(upstream=fake.base_url))
        real: RealRouter | None = None
        if use_real_router:
            real = await stack.enter_async_context(real_router(database_url, redis_url, redis_prefix, fake))
            settings_extra = {
                "ROUTER_URL": real.url,
                "ROUTER_ADMIN_TOKEN": real.admin_token,
                **settings_extra,
            }
        settings = api_settings(database_url, redis_url, redis_prefix, router, **settings_extra)
        app = create_app(settings)
        enqueued = Enqueued()
        app.state[JOBS_STATE_KEY] = dataclasses.replace(
            app.state[JOBS_STATE_KEY], enqueue_aggregation=enqueued
        )
        async with app.lifespan():
            await app.state["pool"].wait(timeout=10)
            if serve:
                async with (
                    serve_asgi(app) as base_url,
                    httpx.AsyncClient(base_url=base_url, timeout=30) as client,
                ):
                    yield JobWorld(
                        app, client, settings, router, fake, enqueued, base_url=base_url, real=real
                    )
            else:
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(
                    transport=transport, base_url="http://api", timeout=30
                ) as client:
                    yield JobWorld(app, client, settings, router, fake, enqueued, real=real)
