"""The auth domain's only door to generated SQL: the team-key lookup on the job API's hot path."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import teams as tq
from tollgate_common.db import checked

TeamAuthRow = tq.TeamAuthByKeyHashRow


async def team_auth_by_key_hash(conn: AsyncConnection[Any], key_hash: str) -> TeamAuthRow | None:
    """The team, plan and key state for a key's SHA-256, or None for an unknown key."""
    return await checked(tq.team_auth_by_key_hash(conn, key_hash=key_hash))
