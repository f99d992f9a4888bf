"""The router app's plumbing: health, metrics, problem details for malformed input."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from tollgate_common.env import Env
from tollgate_router.app import create_app
from tollgate_router.settings import RouterSettings


def settings_for(database_url: str, redis_url: str, prefix: str) -> RouterSettings:
    env = Env(
        {
            "TOLLGATE_DATABASE_URL": database_url,
            "TOLLGATE_REDIS_URL": redis_url,
            "TOLLGATE_REDIS_PREFIX": prefix,
            "TOLLGATE_MIGRATE_ON_START": "false",
            "TOLLGATE_ROUTER_ADMIN_TOKEN": "test-admin-token",
            "TOLLGATE_LOG_FORMAT": "json",
        }
    )
    return RouterSettings.from_env(env)


async def test_ready_checks_postgres_and_redis(database_url: str, redis_url: str, redis_prefix: str) -> None:
    app = create_app(settings_for(database_url, redis_url, redis_prefix))
    async with AsyncTestClient(app) as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
    assert live.status_code == 200
    assert ready.status_code == 200, ready.text
    assert live.headers["x-request-id"]


async def test_ready_names_the_failing_dependency(database_url: str, redis_prefix: str) -> None:
    app = create_app(settings_for(database_url, "redis://127.0.0.1:1/0", redis_prefix))
    async with AsyncTestClient(app) as client:
        ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.headers["content-type"].startswith("application/problem+json")
    assert ready.json()["failing"] == ["redis"]


async def test_unknown_route_is_a_problem(database_url: str, redis_url: str, redis_prefix: str) -> None:
    app = create_app(settings_for(database_url, redis_url, redis_prefix))
    async with AsyncTestClient(app) as client:
        response = await client.get("/nope")
        metrics = await client.get("/metrics")
    assert response.status_code == 404
    body = response.json()
    assert body["type"].endswith("/not-found")
    assert body["status"] == 404
    assert b"tollgate_http_requests_total" in metrics.content
