"""Operators see when a team key was last used; the write stays off the request path and is throttled."""

from __future__ import annotations

import asyncio
from typing import Any

from tollgate_common.db import connection

READ = "/api/credits/balance"


async def last_used(admin: Any, team_id: str) -> str | None:
    listed = (await admin.get(f"/admin/teams/{team_id}/keys")).json()
    value: str | None = listed[0]["last_used_at"]
    return value


async def test_a_used_key_shows_when_it_was_last_used(admin: Any, tenancy: Any) -> None:
    team = await tenancy.team()
    assert await last_used(admin, team["id"]) is None
    response = await admin.get(READ, headers={"authorization": f"Bearer {team['api_key']}"})
    assert response.status_code == 200
    for _ in range(100):
        if await last_used(admin, team["id"]) is not None:
            break
        await asyncio.sleep(0.02)
    assert await last_used(admin, team["id"]) is not None


async def test_repeated_use_writes_the_timestamp_once_a_minute_at_most(
    admin: Any, tenancy: Any, pool: Any
) -> None:
    team = await tenancy.team()
    headers = {"authorization": f"Bearer {team['api_key']}"}
    assert (await admin.get(READ, headers=headers)).status_code == 200
    for _ in range(100):
        if await last_used(admin, team["id"]) is not None:
            break
        await asyncio.sleep(0.02)
    first = await last_used(admin, team["id"])
    async with connection(pool) as conn:  # make a second write visible if one happened
        await conn.execute("UPDATE api.team_keys SET last_used_at = NULL WHERE team_id = %s", (team["id"],))
    for _ in range(5):
        assert (await admin.get(READ, headers=headers)).status_code == 200
    await asyncio.sleep(0.2)
    assert first is not None
    assert await last_used(admin, team["id"]) is None
