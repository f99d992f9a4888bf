"""Team rows (the only caller of the generated ``teams`` queries)."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import teams as q
from tollgate_api.db.models import Team, TeamStatus
from tollgate_common.db import checked

__all__ = ["Team", "TeamStatus", "create", "get", "get_for_update", "list_teams", "set_status", "update"]


async def create(conn: AsyncConnection[Any], **fields: Any) -> Team:
    row = await checked(q.team_create(conn, **fields))
    assert row is not None
    return row


async def get(conn: AsyncConnection[Any], team_id: uuid.UUID) -> Team | None:
    return await checked(q.team_get(conn, id=team_id))


async def get_for_update(conn: AsyncConnection[Any], team_id: uuid.UUID) -> Team | None:
    return await checked(q.team_get_for_update(conn, id=team_id))


async def list_teams(
    conn: AsyncConnection[Any], *, organization_id: uuid.UUID | None, limit: int
) -> list[Team]:
    return await checked(q.team_list(conn, organization_id=organization_id, lim=limit))


async def update(conn: AsyncConnection[Any], team_id: uuid.UUID, **fields: Any) -> Team | None:
    return await checked(q.team_update(conn, id=team_id, **fields))


async def set_status(conn: AsyncConnection[Any], team_id: uuid.UUID, status: TeamStatus) -> Team | None:
    return await checked(q.team_set_status(conn, id=team_id, status=status))
