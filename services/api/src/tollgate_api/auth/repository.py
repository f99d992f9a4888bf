"""The auth domain's only door to generated SQL: the team-key lookup on the job API's hot path."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import team_keys as kq
from tollgate_api.db import teams as tq
from tollgate_common.db import checked

TeamAuthRow = tq.TeamAuthByKeyHashRow


async def team_auth_by_key_hash(conn: AsyncConnection[Any], key_hash: str) -> TeamAuthRow | None:
    """The team, plan and key state for a key's SHA-256, or None for an unknown key."""
    return await checked(tq.team_auth_by_key_hash(conn, key_hash=key_hash))


async def touch_key(conn: AsyncConnection[Any], key_id: uuid.UUID) -> None:
    """Record that the key was used now (``team_keys.last_used_at``)."""
    await checked(kq.team_key_touch(conn, id=key_id))
