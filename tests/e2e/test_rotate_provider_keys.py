"""`make rotate-keys` (`tollgate keys rotate-provider-keys`) re-encrypts provider keys under the new
primary key id of a running router, and the keys still decrypt to the same secret."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
import psycopg
import pytest

from tests.jobs_support import serve_asgi
from tollgate_api import cli
from tollgate_common.crypto import Keyring
from tollgate_common.env import Env
from tollgate_router.app import create_app
from tollgate_router.catalog.service import provider_key_aad
from tollgate_router.settings import RouterSettings

TOKEN = "rotate-test-admin-token"
SECRET = "sk-provider-secret-rotate-0123456789"


def settings(database_url: str, redis_url: str, prefix: str, keys: str) -> RouterSettings:
    values: Mapping[str, str] = {
        "TOLLGATE_DATABASE_URL": database_url,
        "TOLLGATE_REDIS_URL": redis_url,
        "TOLLGATE_REDIS_PREFIX": prefix,
        "TOLLGATE_MIGRATE_ON_START": "false",
        "TOLLGATE_ROUTER_ADMIN_TOKEN": TOKEN,
        "TOLLGATE_ROUTER_ENCRYPTION_KEYS": keys,
        "TOLLGATE_LOG_LEVEL": "WARNING",
        "TOLLGATE_ROUTER_COOLDOWN_POLL_S": "3600",
    }
    return RouterSettings.from_env(Env(dict(values)))


async def test_rotate_keys_reencrypts_under_the_new_primary(
    database_url: str, redis_url: str, redis_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = Keyring.new_key_setting("k1"), Keyring.new_key_setting("k2")
    first = create_app(settings(database_url, redis_url, redis_prefix, old))
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with first.lifespan(), serve_asgi(first) as url, httpx.AsyncClient(base_url=url, headers=auth) as c:
        made = await c.post("/admin/providers", json={"name": "p", "kind": "openai", "api_key": SECRET})
        assert made.status_code == 201, made.text

    second = create_app(settings(database_url, redis_url, redis_prefix, f"{new},{old}"))
    async with second.lifespan(), serve_asgi(second) as url:
        monkeypatch.setenv("TOLLGATE_ROUTER_ADMIN_TOKEN", TOKEN)
        code = await asyncio.to_thread(cli.main, ["keys", "rotate-provider-keys", "--router-url", url])
    assert code == 0

    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id, api_key_enc FROM router.providers").fetchone()
    assert row is not None
    provider_id, stored = row
    assert SECRET not in stored
    assert Keyring.from_setting(new).key_id_of(stored) == "k2"
    assert Keyring.from_setting(new).decrypt(stored, associated=provider_key_aad(provider_id)) == SECRET
