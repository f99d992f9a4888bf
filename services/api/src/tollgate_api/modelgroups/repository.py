"""Model groups, access groups and grants (the only caller of their generated queries)."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import access_groups as aq
from tollgate_api.db import model_groups as mq
from tollgate_api.db import teams as tq
from tollgate_api.db.access_groups import TeamAccessGroupListRow
from tollgate_api.db.model_groups import ModelGroupListForTeamRow, ModelGroupResolveForTeamRow
from tollgate_api.db.models import AccessGroup, ModelGroup, Team
from tollgate_common.db import checked

__all__ = [
    "AccessGroup",
    "ModelGroup",
    "ModelGroupListForTeamRow",
    "ModelGroupResolveForTeamRow",
    "Team",
    "TeamAccessGroupListRow",
]


# ------------------------------------------------------------------ model groups


async def model_group_create(
    conn: AsyncConnection[Any], *, name: str, router_model: str, fallbacks: list[str], description: str
) -> ModelGroup:
    row = await checked(
        mq.model_group_create(
            conn,
            id=uuid.uuid4(),
            name=name,
            router_model=router_model,
            fallbacks=fallbacks,
            description=description,
        )
    )
    assert row is not None
    return row


async def model_group_get(conn: AsyncConnection[Any], group_id: uuid.UUID) -> ModelGroup | None:
    return await checked(mq.model_group_get(conn, id=group_id))


async def model_group_list(conn: AsyncConnection[Any]) -> list[ModelGroup]:
    return await checked(mq.model_group_list(conn))


async def model_group_update(
    conn: AsyncConnection[Any],
    group_id: uuid.UUID,
    *,
    name: str,
    router_model: str,
    fallbacks: list[str],
    description: str,
) -> ModelGroup | None:
    return await checked(
        mq.model_group_update(
            conn,
            id=group_id,
            name=name,
            router_model=router_model,
            fallbacks=fallbacks,
            description=description,
        )
    )


async def model_group_delete(conn: AsyncConnection[Any], group_id: uuid.UUID) -> int:
    return await checked(mq.model_group_delete(conn, id=group_id))


async def resolve_for_team(
    conn: AsyncConnection[Any], *, team_id: uuid.UUID, name: str
) -> ModelGroupResolveForTeamRow | None:
    return await checked(mq.model_group_resolve_for_team(conn, team_id=team_id, name=name))


async def list_for_team(conn: AsyncConnection[Any], team_id: uuid.UUID) -> list[ModelGroupListForTeamRow]:
    return await checked(mq.model_group_list_for_team(conn, team_id=team_id))


async def team_ids_of_model_group(conn: AsyncConnection[Any], group_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await checked(mq.model_group_team_ids(conn, model_group_id=group_id))
    return [r.team_id for r in rows]


# ------------------------------------------------------------------ access groups


async def access_group_create(conn: AsyncConnection[Any], *, name: str, description: str) -> AccessGroup:
    row = await checked(aq.access_group_create(conn, id=uuid.uuid4(), name=name, description=description))
    assert row is not None
    return row


async def access_group_get(conn: AsyncConnection[Any], group_id: uuid.UUID) -> AccessGroup | None:
    return await checked(aq.access_group_get(conn, id=group_id))


async def access_group_list(conn: AsyncConnection[Any]) -> list[AccessGroup]:
    return await checked(aq.access_group_list(conn))


async def access_group_update(
    conn: AsyncConnection[Any], group_id: uuid.UUID, *, name: str, description: str
) -> AccessGroup | None:
    return await checked(aq.access_group_update(conn, id=group_id, name=name, description=description))


async def access_group_delete(conn: AsyncConnection[Any], group_id: uuid.UUID) -> int:
    return await checked(aq.access_group_delete(conn, id=group_id))


async def access_group_set_members(
    conn: AsyncConnection[Any], group_id: uuid.UUID, model_group_ids: list[uuid.UUID]
) -> None:
    await checked(aq.access_group_members_clear(conn, access_group_id=group_id))
    for model_group_id in model_group_ids:
        await checked(
            aq.access_group_member_add(conn, access_group_id=group_id, model_group_id=model_group_id)
        )


async def access_group_members(conn: AsyncConnection[Any], group_id: uuid.UUID) -> list[str]:
    rows = await checked(aq.access_group_member_list(conn, access_group_id=group_id))
    return [r.name for r in rows]


async def team_ids_of_access_group(conn: AsyncConnection[Any], group_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await checked(aq.access_group_team_ids(conn, access_group_id=group_id))
    return [r.team_id for r in rows]


async def grant(conn: AsyncConnection[Any], *, team_id: uuid.UUID, access_group_id: uuid.UUID) -> int:
    return await checked(aq.team_access_group_grant(conn, team_id=team_id, access_group_id=access_group_id))


async def revoke(conn: AsyncConnection[Any], *, team_id: uuid.UUID, access_group_id: uuid.UUID) -> int:
    return await checked(aq.team_access_group_revoke(conn, team_id=team_id, access_group_id=access_group_id))


async def team_grants(conn: AsyncConnection[Any], team_id: uuid.UUID) -> list[TeamAccessGroupListRow]:
    return await checked(aq.team_access_group_list(conn, team_id=team_id))


async def team_get(conn: AsyncConnection[Any], team_id: uuid.UUID) -> Team | None:
    return await checked(tq.team_get(conn, id=team_id))


async def router_models_of_access_groups(
    conn: AsyncConnection[Any], access_group_ids: list[uuid.UUID]
) -> list[str]:
    rows = await checked(mq.model_group_list_for_access_groups(conn, access_group_ids=access_group_ids))
    models: set[str] = set()
    for row in rows:
        models.add(row.router_model)
        models.update(row.fallbacks)
    return sorted(models)
