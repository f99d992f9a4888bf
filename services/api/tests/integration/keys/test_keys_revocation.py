"""Team API keys: hashed at rest, revocation and suspension honoured by every replica within a
second, rotation with a grace period, expiry."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis.asyncio as aioredis
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tollgate_api.auth.revocation import Revocations
from tollgate_api.auth.team import TeamAuthenticator
from tollgate_api.errors import Unauthorized
from tollgate_common.db import connection

READ = "/api/credits/balance"  # any authenticated /api GET


@pytest.fixture
async def replica(admin: Any, app_factory: Any) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A second api process on the same Postgres and Redis (its own pool and auth cache)."""
    async with AsyncTestClient(app_factory()) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def refused_within(
    client: Any, method: str, path: str, key: str, *, status: int, limit_s: float
) -> float:
    started = time.monotonic()
    while True:
        response = await client.request(
            method, path, headers=bearer(key), json={} if method == "POST" else None
        )
        elapsed = time.monotonic() - started
        if response.status_code == status:
            return elapsed
        assert elapsed < limit_s, f"still {response.status_code} after {elapsed:.2f}s"
        await asyncio.sleep(0.05)


async def test_keys_are_stored_as_sha256_and_shown_once(
    api_app: Litestar, pool: Any, admin: Any, tenancy: Any
) -> None:
    team = await tenancy.team()
    key = team["api_key"]
    assert key.startswith("tg_live_")
    assert len(key) >= 8 + 43
    listed = (await admin.get(f"/admin/teams/{team['id']}/keys")).json()
    assert key not in str(listed)
    assert listed[0]["key_hint"] == key[-4:]
    async with connection(pool) as conn:
        cur = await conn.execute("SELECT key_hash FROM api.team_keys WHERE team_id = %s", (team["id"],))
        assert await cur.fetchall() == [(hashlib.sha256(key.encode()).hexdigest(),)]


async def test_missing_unknown_and_malformed_keys_are_401(admin: Any) -> None:
    admin.headers.pop("authorization")
    for headers in (
        {},
        bearer("tg_live_" + "x" * 43),
        bearer("sk-something"),
        {"authorization": "Basic eA=="},
    ):
        response = await admin.get(READ, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_revoked_key_is_refused_by_another_replica_within_a_second(
    admin: Any, tenancy: Any, replica: Any
) -> None:
    team = await tenancy.team(credits=10)
    key, key_id = team["api_key"], team["key_id"]
    assert (await replica.get(READ, headers=bearer(key))).status_code == 200  # now cached there

    revoked = await admin.post(f"/admin/teams/{team['id']}/keys/{key_id}/revoke")
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False

    elapsed = await refused_within(replica, "GET", READ, key, status=401, limit_s=1.0)
    assert elapsed < 1.0


async def test_suspension_reaches_another_replica_within_a_second_and_allows_reads(
    admin: Any, tenancy: Any, replica: Any
) -> None:
    team = await tenancy.team(credits=10)
    key = team["api_key"]
    assert (await replica.get(READ, headers=bearer(key))).status_code == 200

    assert (await admin.post(f"/admin/teams/{team['id']}/suspend")).json()["status"] == "suspended"

    await refused_within(replica, "POST", "/api/jobs/create", key, status=403, limit_s=1.0)
    refused = await replica.post("/api/jobs/create", headers=bearer(key), json={"job_type": "x"})
    assert refused.json()["type"].endswith("/team-not-active")
    assert (await replica.get(READ, headers=bearer(key))).status_code == 200  # reads still work

    assert (await admin.post(f"/admin/teams/{team['id']}/resume")).json()["status"] == "active"
    started = time.monotonic()
    while (
        await replica.post("/api/jobs/create", headers=bearer(key), json={"job_type": "x"})
    ).status_code == 403:
        assert time.monotonic() - started < 1.0
        await asyncio.sleep(0.05)


async def test_rotation_keeps_the_old_key_for_the_grace_period_only(
    admin: Any, tenancy: Any, replica: Any
) -> None:
    team = await tenancy.team()
    old = team["api_key"]
    rotated = await admin.post(f"/admin/teams/{team['id']}/keys/{team['key_id']}/rotate", json={"grace_s": 1})
    assert rotated.status_code == 201, rotated.text
    new = rotated.json()["api_key"]
    assert new != old

    assert (await replica.get(READ, headers=bearer(new))).status_code == 200
    assert (await replica.get(READ, headers=bearer(old))).status_code == 200  # within the grace period
    await refused_within(replica, "GET", READ, old, status=401, limit_s=2.0)
    assert (await replica.get(READ, headers=bearer(new))).status_code == 200

    again = await admin.post(f"/admin/teams/{team['id']}/keys/{rotated.json()['id']}/rotate", json={})
    newest = again.json()["api_key"]
    assert (await replica.get(READ, headers=bearer(newest))).status_code == 200
    await refused_within(replica, "GET", READ, new, status=401, limit_s=1.0)  # grace 0: at once


async def test_expired_keys_are_refused(admin: Any, tenancy: Any) -> None:
    team = await tenancy.team()
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    expired = (
        await admin.post(f"/admin/teams/{team['id']}/keys", json={"name": "old", "expires_at": past})
    ).json()
    expiring = (
        await admin.post(f"/admin/teams/{team['id']}/keys", json={"name": "soon", "expires_at": soon})
    ).json()
    assert (await admin.get(READ, headers=bearer(expired["api_key"]))).status_code == 401
    assert (await admin.get(READ, headers=bearer(expiring["api_key"]))).status_code == 200
    await refused_within(admin, "GET", READ, expiring["api_key"], status=401, limit_s=2.0)
    names = {k["name"]: k["active"] for k in (await admin.get(f"/admin/teams/{team['id']}/keys")).json()}
    assert names == {"default": True, "old": False, "soon": False}


async def test_disabling_the_organization_suspends_its_teams(admin: Any, tenancy: Any) -> None:
    team = await tenancy.team()
    key = team["api_key"]
    assert (
        await admin.post("/api/jobs/create", headers=bearer(key), json={"job_type": "x"})
    ).status_code != 403
    await admin.patch(f"/admin/organizations/{team['organization_id']}", json={"status": "disabled"})
    await refused_within(admin, "POST", "/api/jobs/create", key, status=403, limit_s=1.0)
    assert (await admin.get(READ, headers=bearer(key))).status_code == 200


async def test_paused_team_reads_and_finishes_but_cannot_create_jobs(admin: Any, tenancy: Any) -> None:
    team = await tenancy.team(credits=100)
    key = team["api_key"]
    await admin.post(f"/admin/teams/{team['id']}/pause")
    await refused_within(admin, "POST", "/api/jobs/create", key, status=403, limit_s=1.0)
    refused = await admin.post("/api/jobs/create", headers=bearer(key), json={"job_type": "x"})
    assert refused.json()["type"].endswith("/team-not-active")
    assert (await admin.get(READ, headers=bearer(key))).status_code == 200


async def test_revocation_is_still_honoured_when_redis_is_unreachable(
    pool: Any, admin: Any, tenancy: Any
) -> None:
    team = await tenancy.team()
    broken = aioredis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    authenticator = TeamAuthenticator(
        pool, Revocations(broken, prefix="x:"), admin_app_keyring(admin), ttl_s=30.0
    )
    try:
        principal = await authenticator.authenticate(team["api_key"])
        assert str(principal.team_id) == team["id"]
        await admin.post(f"/admin/teams/{team['id']}/keys/{team['key_id']}/revoke")
        await asyncio.sleep(0.6)  # past the check interval: an unreadable counter drops the cache
        with pytest.raises(Unauthorized):
            await authenticator.authenticate(team["api_key"])
    finally:
        await broken.aclose()


def admin_app_keyring(client: Any) -> Any:
    return client.app.state["keyring"]
