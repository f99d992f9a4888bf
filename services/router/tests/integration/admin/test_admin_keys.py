"""Virtual keys through /admin, and revocation reaching a second replica (a second app sharing the
database and Redis) within one second."""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Awaitable, Callable
from typing import Any

import psycopg

from tollgate_common.crypto import hash_key
from tollgate_router.errors import InvalidKey, KeyBlocked, ModelNotAllowed
from tollgate_router.keys.service import KeyAuth


async def within_one_second(check: Callable[[], Awaitable[bool]]) -> float:
    started = time.monotonic()
    while not await check():
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, "change not seen within 1 s"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def rejects(auth: KeyAuth, raw: str, error: type[Exception]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        try:
            await auth.authenticate(raw)
        except error:
            return True
        return False

    return check


async def test_create_returns_the_key_once_and_stores_only_its_hash(
    running_app: Any, admin_headers: dict[str, str], database_url: str
) -> None:
    async with running_app() as r:
        created = await r.client.post(
            "/admin/keys",
            json={
                "owner_ref": "team-1",
                "allowed_models": ["chat"],
                "rpm": 10,
                "budget_micro_usd": 5_000_000,
            },
            headers=admin_headers,
        )
        assert created.status_code == 201, created.text
        body = created.json()
        raw = body["key"]
        info = await r.client.get(f"/admin/keys/{body['id']}", headers=admin_headers)
        listed = await r.client.get("/admin/keys", params={"owner_ref": "team-1"}, headers=admin_headers)
        other = await r.client.get("/admin/keys", params={"owner_ref": "team-2"}, headers=admin_headers)
    assert raw.startswith("tgv_")
    assert len(raw) >= 4 + 43  # 256 random bits, URL-safe
    assert raw.startswith(body["key_prefix"])
    assert raw not in info.text
    assert raw not in listed.text
    assert info.json()["period_spend_micro_usd"] == 0
    assert info.json()["budget_period"] == "month"
    assert [k["id"] for k in listed.json()] == [body["id"]]
    assert other.json() == []
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT key_hash FROM router.virtual_keys").fetchone()
    assert row == (hash_key(raw),)


async def test_block_delete_regenerate_and_expiry_stop_the_key_on_another_replica(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as a, running_app() as b:
        auth_a: KeyAuth = a.app.state.key_auth
        auth_b: KeyAuth = b.app.state.key_auth
        created = (await a.client.post("/admin/keys", json={"owner_ref": "t"}, headers=admin_headers)).json()
        raw, kid = created["key"], created["id"]
        for auth in (auth_a, auth_b):  # both replicas now hold the key in their auth cache
            key = await auth.authenticate(raw)
            assert str(key.id) == kid

        assert (await a.client.post(f"/admin/keys/{kid}/block", headers=admin_headers)).json()["blocked"]
        await within_one_second(rejects(auth_b, raw, KeyBlocked))
        await within_one_second(rejects(auth_a, raw, KeyBlocked))

        assert not (await a.client.post(f"/admin/keys/{kid}/unblock", headers=admin_headers)).json()[
            "blocked"
        ]
        await within_one_second(lambda: _accepts(auth_b, raw))

        regenerated = (await a.client.post(f"/admin/keys/{kid}/regenerate", headers=admin_headers)).json()
        new_raw = regenerated["key"]
        assert new_raw != raw
        assert regenerated["id"] == kid
        await within_one_second(rejects(auth_b, raw, InvalidKey))
        assert str((await auth_b.authenticate(new_raw)).id) == kid

        soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(milliseconds=400)
        patched = await a.client.patch(
            f"/admin/keys/{kid}", json={"expires_at": soon.isoformat()}, headers=admin_headers
        )
        assert patched.status_code == 200, patched.text
        await within_one_second(rejects(auth_b, new_raw, InvalidKey))

        await a.client.patch(f"/admin/keys/{kid}", json={"expires_at": None}, headers=admin_headers)
        await within_one_second(lambda: _accepts(auth_b, new_raw))
        assert (await a.client.delete(f"/admin/keys/{kid}", headers=admin_headers)).status_code == 204
        await within_one_second(rejects(auth_b, new_raw, InvalidKey))
        assert (await a.client.get(f"/admin/keys/{kid}", headers=admin_headers)).status_code == 404


async def _accepts(auth: KeyAuth, raw: str) -> bool:
    try:
        await auth.authenticate(raw)
    except (InvalidKey, KeyBlocked):
        return False
    return True


async def test_unknown_and_malformed_keys_are_invalid_and_models_are_checked(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as r:
        auth: KeyAuth = r.app.state.key_auth
        for raw in ("", "sk-not-ours", "tgv_" + "x" * 43, "tgv_" + "y" * 1000):
            assert await rejects(auth, raw, InvalidKey)()
        created = await r.client.post(
            "/admin/keys", json={"owner_ref": "t", "allowed_models": ["chat"]}, headers=admin_headers
        )
        key = await auth.authenticate(created.json()["key"])
    auth.check_model(key, "chat")
    try:
        auth.check_model(key, "other")
    except ModelNotAllowed:
        pass
    else:
        raise AssertionError("model outside allowed_models was accepted")


async def test_patch_validates_and_updates_limits(running_app: Any, admin_headers: dict[str, str]) -> None:
    async with running_app() as r:
        kid = (await r.client.post("/admin/keys", json={"owner_ref": "t"}, headers=admin_headers)).json()[
            "id"
        ]
        bad = await r.client.patch(f"/admin/keys/{kid}", json={"rpm": 0}, headers=admin_headers)
        unknown_field = await r.client.patch(
            f"/admin/keys/{kid}", json={"key_hash": "x"}, headers=admin_headers
        )
        ok = await r.client.patch(
            f"/admin/keys/{kid}",
            json={
                "rpm": 5,
                "tpm": 1000,
                "budget_micro_usd": 10,
                "budget_period": "day",
                "metadata": {"a": 1},
            },
            headers=admin_headers,
        )
        missing = await r.client.patch(
            "/admin/keys/00000000-0000-0000-0000-000000000000", json={"rpm": 5}, headers=admin_headers
        )
    assert bad.status_code == 400
    assert unknown_field.status_code == 400
    assert ok.status_code == 200
    assert {k: ok.json()[k] for k in ("rpm", "tpm", "budget_micro_usd", "budget_period", "metadata")} == {
        "rpm": 5,
        "tpm": 1000,
        "budget_micro_usd": 10,
        "budget_period": "day",
        "metadata": {"a": 1},
    }
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/key-not-found")
