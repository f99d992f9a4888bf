"""Team API key rows (the only caller of the generated ``team_keys`` queries)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import team_keys as q
from tollgate_api.db.models import TeamKey
from tollgate_common.db import checked

__all__ = ["TeamKey", "create", "get", "list_by_team", "revoke", "set_rotated"]


async def create(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    name: str,
    key_hash: str,
    key_hint: str,
    expires_at: datetime | None,
    created_by: str,
) -> TeamKey:
    row = await checked(
        q.team_key_create(
            conn,
            id=uuid.uuid4(),
            team_id=team_id,
            name=name,
            key_hash=key_hash,
            key_hint=key_hint,
            expires_at=expires_at,
            created_by=created_by,
        )
    )
    assert row is not None
    return row


async def get(conn: AsyncConnection[Any], *, team_id: uuid.UUID, key_id: uuid.UUID) -> TeamKey | None:
    return await checked(q.team_key_get(conn, id=key_id, team_id=team_id))


async def list_by_team(conn: AsyncConnection[Any], team_id: uuid.UUID) -> list[TeamKey]:
    return await checked(q.team_key_list_by_team(conn, team_id=team_id))


async def revoke(
    conn: AsyncConnection[Any], *, team_id: uuid.UUID, key_id: uuid.UUID, at: datetime
) -> TeamKey | None:
    return await checked(q.team_key_revoke(conn, id=key_id, team_id=team_id, at=at))


async def set_rotated(conn: AsyncConnection[Any], *, key_id: uuid.UUID, rotated_to: uuid.UUID) -> None:
    await checked(q.team_key_set_rotated(conn, id=key_id, rotated_to=rotated_to))
