"""Fixtures for admin-API tests: router apps run in the test's own event loop (lifespan entered
directly, requests through httpx's ASGI transport), so tests can also call app.state services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import httpx
import pytest
from litestar import Litestar

from tollgate_common.crypto import Keyring
from tollgate_common.env import Env
from tollgate_router.app import create_app
from tollgate_router.settings import RouterSettings

ADMIN_TOKEN = "test-admin-token-0123456789"
AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def router_settings(database_url: str, redis_url: str, prefix: str, **extra: str) -> RouterSettings:
    values = {
        "TOLLGATE_DATABASE_URL": database_url,
        "TOLLGATE_REDIS_URL": redis_url,
        "TOLLGATE_REDIS_PREFIX": prefix,
        "TOLLGATE_MIGRATE_ON_START": "false",
        "TOLLGATE_DATABASE_POOL_MIN": "1",
        "TOLLGATE_DATABASE_POOL_MAX": "4",
        "TOLLGATE_ROUTER_ADMIN_TOKEN": ADMIN_TOKEN,
        "TOLLGATE_LOG_FORMAT": "json",
        "TOLLGATE_LOG_LEVEL": "WARNING",
        # these tests don't exercise cooldowns; a long poll keeps the data plane's poller asleep at shutdown
        "TOLLGATE_ROUTER_COOLDOWN_POLL_S": "3600",
    }
    values.update(extra)
    return RouterSettings.from_env(Env(values))


class RunningApp:
    def __init__(self, app: Litestar, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client


AppFactory = Callable[..., AbstractAsyncContextManager[RunningApp]]


@pytest.fixture
def keyring_setting() -> str:
    return Keyring.new_key_setting("k1")


@pytest.fixture
def running_app(database_url: str, redis_url: str, redis_prefix: str, keyring_setting: str) -> AppFactory:
    """``async with running_app(**env) as r:`` — a started router app sharing the test's DB and Redis."""

    @asynccontextmanager
    async def factory(**extra: str) -> AsyncIterator[RunningApp]:
        env = {"TOLLGATE_ROUTER_ENCRYPTION_KEYS": keyring_setting, **extra}
        app = create_app(router_settings(database_url, redis_url, redis_prefix, **env))
        async with (
            app.lifespan(),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router") as client,
        ):
            yield RunningApp(app, client)

    return factory


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return dict(AUTH)
