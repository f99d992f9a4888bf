"""Providers, deployments and fallbacks through /admin: write-only provider keys, encryption at rest,
list-price pre-fill, and changes reaching another replica's catalog within a second."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import psycopg
import pytest

from tollgate_common.crypto import Keyring
from tollgate_router.catalog.service import Catalog, list_prices, provider_key_aad
from tollgate_router.errors import ModelNotFound

SECRET = "sk-test-abcdefghijklmnopqrstuvwxyz-9876"


async def create_provider(r: Any, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    body = {"name": "openai-main", "kind": "openai", "api_key": SECRET, **fields}
    response = await r.client.post("/admin/providers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_provider_key_is_never_returned_and_is_stored_encrypted(
    running_app: Any, admin_headers: dict[str, str], database_url: str, keyring_setting: str
) -> None:
    async with running_app() as r:
        created = await create_provider(r, admin_headers)
        pid = created["id"]
        bodies = [
            created,
            (await r.client.get(f"/admin/providers/{pid}", headers=admin_headers)).json(),
            (await r.client.get("/admin/providers", headers=admin_headers)).json(),
            (
                await r.client.patch(
                    f"/admin/providers/{pid}", json={"base_url": "http://x"}, headers=admin_headers
                )
            ).json(),
        ]
    for body in bodies:
        assert SECRET not in str(body)
        assert SECRET[:-4] not in str(body)
    assert created["api_key_hint"] == SECRET[-4:]
    assert created["has_api_key"] is True
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT api_key_enc FROM router.providers WHERE id = %s", (pid,)).fetchone()
    assert row is not None
    stored = row[0]
    assert SECRET not in stored
    assert stored.startswith("v1:k1:")
    keyring = Keyring.from_setting(keyring_setting)
    assert keyring.decrypt(stored, associated=provider_key_aad(uuid.UUID(pid))) == SECRET


async def test_rotate_key_and_rotate_encryption(
    running_app: Any, admin_headers: dict[str, str], database_url: str, keyring_setting: str
) -> None:
    async with running_app() as r:
        pid = (await create_provider(r, admin_headers))["id"]
        rotated = await r.client.post(
            f"/admin/providers/{pid}/rotate-key",
            json={"api_key": "sk-new-key-000011112222"},
            headers=admin_headers,
        )
        assert rotated.status_code == 200
        assert rotated.json()["api_key_hint"] == "2222"
    new_primary = Keyring.new_key_setting("k2")
    async with running_app(TOLLGATE_ROUTER_ENCRYPTION_KEYS=f"{new_primary},{keyring_setting}") as r:
        result = await r.client.post("/admin/providers/rotate-encryption", headers=admin_headers)
        assert result.status_code == 200, result.text
        assert result.json() == {"rotated": 1, "unchanged": 0, "primary_key_id": "k2"}
        again = await r.client.post("/admin/providers/rotate-encryption", headers=admin_headers)
        assert again.json()["rotated"] == 0
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id, api_key_enc FROM router.providers").fetchone()
    assert row is not None
    assert row[1].startswith("v1:k2:")
    assert (
        Keyring.from_setting(new_primary).decrypt(row[1], associated=provider_key_aad(row[0]))
        == "sk-new-key-000011112222"
    )


async def test_provider_with_key_fails_clearly_without_a_keyring(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app(TOLLGATE_ROUTER_ENCRYPTION_KEYS="") as r:
        response = await r.client.post(
            "/admin/providers", json={"name": "p", "kind": "openai", "api_key": SECRET}, headers=admin_headers
        )
        keyless = await r.client.post(
            "/admin/providers", json={"name": "m", "kind": "mock"}, headers=admin_headers
        )
    assert response.status_code == 503
    assert response.json()["type"].endswith("/encryption-not-configured")
    assert "TOLLGATE_ROUTER_ENCRYPTION_KEYS" in response.json()["detail"]
    assert keyless.status_code == 201


async def test_deployment_prices_prefill_from_the_bundled_list(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as r:
        pid = (await create_provider(r, admin_headers))["id"]
        listed = await r.client.post(
            "/admin/deployments",
            json={"model_name": "fast", "provider_id": pid, "upstream_model": "gpt-4o-mini"},
            headers=admin_headers,
        )
        given = await r.client.post(
            "/admin/deployments",
            json={
                "model_name": "fast",
                "provider_id": pid,
                "upstream_model": "gpt-4o-mini",
                "input_price_micro_usd_per_mtok": 7,
            },
            headers=admin_headers,
        )
        unknown = await r.client.post(
            "/admin/deployments",
            json={"model_name": "own", "provider_id": pid, "upstream_model": "my-finetune"},
            headers=admin_headers,
        )
        no_provider = await r.client.post(
            "/admin/deployments",
            json={
                "model_name": "x",
                "provider_id": "00000000-0000-0000-0000-000000000000",
                "upstream_model": "y",
            },
            headers=admin_headers,
        )
        negative = await r.client.post(
            "/admin/deployments",
            json={
                "model_name": "x",
                "provider_id": pid,
                "upstream_model": "y",
                "output_price_micro_usd_per_mtok": -1,
            },
            headers=admin_headers,
        )
    price = list_prices().lookup("gpt-4o-mini")
    assert price is not None
    assert listed.status_code == 201, listed.text
    assert listed.json()["input_price_micro_usd_per_mtok"] == price.input == 150_000
    assert listed.json()["output_price_micro_usd_per_mtok"] == price.output
    assert listed.json()["cached_input_price_micro_usd_per_mtok"] == price.cached_input
    assert given.json()["input_price_micro_usd_per_mtok"] == 7
    assert given.json()["output_price_micro_usd_per_mtok"] == price.output
    assert unknown.json()["input_price_micro_usd_per_mtok"] == 0
    assert no_provider.status_code == 404
    assert negative.status_code == 400


async def test_bundled_price_list_names_its_source_and_date() -> None:
    prices = list_prices()
    assert prices.source
    assert prices.as_of
    for model in (
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-4.1-mini",
        "o3-mini",
        "claude-sonnet-4",
        "claude-3-5-sonnet",
        "claude-3-5-haiku",
        "text-embedding-3-small",
    ):
        assert prices.lookup(model) is not None, model
    assert prices.lookup("anthropic/claude-sonnet-4-20250514") == prices.lookup("claude-sonnet-4")


async def test_admin_changes_reach_another_replica_within_a_second(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as a, running_app() as b:
        catalog_b: Catalog = b.app.state.catalog
        with pytest.raises(ModelNotFound):
            await catalog_b.deployments("chat")
        pid = (await create_provider(a, admin_headers))["id"]
        created = await a.client.post(
            "/admin/deployments",
            json={"model_name": "chat", "provider_id": pid, "upstream_model": "gpt-4o", "weight": 3},
            headers=admin_headers,
        )
        did = created.json()["id"]
        put = await a.client.put(
            "/admin/fallbacks/chat",
            json={"fallback_models": ["openai/backup", "cheap"]},
            headers=admin_headers,
        )
        assert put.status_code == 200, put.text
        started = time.monotonic()
        while True:
            try:
                deployments = await catalog_b.deployments("chat")
                break
            except ModelNotFound:
                assert time.monotonic() - started < 1.0, "catalog change not seen within 1 s"
                await asyncio.sleep(0.05)
        assert [str(d.id) for d in deployments] == [did]
        assert deployments[0].api_key is not None
        assert deployments[0].api_key.get() == SECRET
        assert deployments[0].weight == 3
        assert await catalog_b.fallbacks("chat") == ("openai/backup", "cheap")
        assert await catalog_b.model_names() == ("chat",)
        fallback = await a.client.get("/admin/fallbacks/chat", headers=admin_headers)
        assert fallback.json()["fallback_models"] == ["openai/backup", "cheap"]

        disabled = await a.client.patch(
            f"/admin/deployments/{did}", json={"enabled": False}, headers=admin_headers
        )
        assert disabled.json()["enabled"] is False
        started = time.monotonic()
        while True:
            try:
                await catalog_b.deployments("chat")
            except ModelNotFound:
                break
            assert time.monotonic() - started < 1.0, "disabling not seen within 1 s"
            await asyncio.sleep(0.05)
        assert (await a.client.delete(f"/admin/deployments/{did}", headers=admin_headers)).status_code == 204
        assert (await a.client.delete("/admin/fallbacks/chat", headers=admin_headers)).status_code == 204
        assert (await a.client.get("/admin/fallbacks/chat", headers=admin_headers)).status_code == 404
        assert (await a.client.delete(f"/admin/providers/{pid}", headers=admin_headers)).status_code == 204
        assert (await a.client.get(f"/admin/providers/{pid}", headers=admin_headers)).status_code == 404


async def test_the_replica_that_made_a_change_routes_by_it_at_once(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as a:
        catalog: Catalog = a.app.state.catalog
        with pytest.raises(ModelNotFound):
            await catalog.deployments("instant")  # loads the snapshot, next check ~500 ms away
        pid = (await create_provider(a, admin_headers))["id"]
        created = await a.client.post(
            "/admin/deployments",
            json={"model_name": "instant", "provider_id": pid, "upstream_model": "gpt-4o"},
            headers=admin_headers,
        )
        assert created.status_code == 201, created.text
        deployments = await catalog.deployments("instant")  # no waiting for the version check
        assert [str(d.id) for d in deployments] == [created.json()["id"]]
