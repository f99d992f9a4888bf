"""Team rows (the only caller of the generated ``teams`` queries)."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import teams as q
from tollgate_api.db.models import Team, TeamStatus
from tollgate_api.db.teams import TeamNearExhaustionRow, TeamPageRow
from tollgate_common.db import checked

__all__ = [
    "Team",
    "TeamNearExhaustionRow",
    "TeamPageRow",
    "TeamStatus",
    "create",
    "get",
    "get_for_update",
    "list_teams",
    "names",
    "near_exhaustion",
    "page",
    "set_status",
    "update",
]


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


async def page(
    conn: AsyncConnection[Any],
    *,
    organization_id: uuid.UUID | None,
    status: TeamStatus | None,
    name_like: str | None,
    after: tuple[str, uuid.UUID] | None,
    limit: int,
) -> list[TeamPageRow]:
    return await checked(
        q.team_page(
            conn,
            organization_id=organization_id,
            status=status,
            name_like=name_like,
            after_name=after[0] if after else None,
            after_id=after[1] if after else None,
            lim=limit,
        )
    )


async def near_exhaustion(
    conn: AsyncConnection[Any], *, threshold: int, limit: int
) -> list[TeamNearExhaustionRow]:
    return await checked(q.team_near_exhaustion(conn, threshold=threshold, lim=limit))


async def names(conn: AsyncConnection[Any], ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
    return {r.id: r.name for r in await checked(q.team_names(conn, ids=ids))}
