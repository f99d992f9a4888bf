"""Model groups (the names teams send as ``model``), access groups (bundles of them) and grants.

A team may use a model group only when one of its granted access groups contains it;
:func:`resolve_for_team` answers :class:`UnknownModelGroup` — the same 404 for a name that does not
exist and for one the team was not granted — so the answer reveals nothing about what exists.

Consistency with the router: the api's database is the source of truth for grants and is checked on
every call (:func:`resolve_for_team`, cached for at most ``RESOLVE_TTL_S``). Each team's router virtual
key also carries ``allowed_models`` (the router models and fallbacks of its granted groups) as a second
fence. When grants or groups change, the key is PATCHed through the router admin API *after* the
database commit, best effort: a failure is logged (``router_key_sync_failed``) and repaired by the next
change or ``POST /admin/teams/{id}/sync-router-key``. Until then the router key may be stale: more
permissive only for models the api no longer sends, or more restrictive (calls refused by the router,
surfaced as unavailable) — never a team using a group it was not granted.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.errors import BadRequest, NotFound, TollgateError, UnknownModelGroup
from tollgate_api.modelgroups import repository
from tollgate_api.modelgroups.schemas import (
    AccessGroupIn,
    AccessGroupOut,
    GrantOut,
    ModelGroupIn,
    ModelGroupOut,
)
from tollgate_api.routeradmin.client import RouterAdmin
from tollgate_common.db import connection, transaction

_log = structlog.get_logger("tollgate.modelgroups")

RESOLVE_TTL_S: Final = 1.0
_RESOLVE_CACHE_MAX: Final = 10_000


@dataclass(frozen=True, slots=True)
class ResolvedModelGroup:
    id: uuid.UUID
    name: str
    router_model: str
    fallbacks: tuple[str, ...] = ()


_resolved: dict[tuple[int, uuid.UUID, str], tuple[float, ResolvedModelGroup]] = {}


async def resolve_for_team(
    pool: AsyncConnectionPool[AsyncConnection[Any]], team_id: uuid.UUID, name: str
) -> ResolvedModelGroup:
    """The model group ``name`` if the team was granted it; :class:`UnknownModelGroup` otherwise."""
    key = (id(pool), team_id, name)
    now = time.monotonic()
    hit = _resolved.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    if not name or len(name) > 100:
        raise UnknownModelGroup()
    async with connection(pool) as conn:
        row = await repository.resolve_for_team(conn, team_id=team_id, name=name)
    if row is None:
        _resolved.pop(key, None)
        raise UnknownModelGroup()
    resolved = ResolvedModelGroup(
        id=row.id, name=row.name, router_model=row.router_model, fallbacks=tuple(row.fallbacks)
    )
    if len(_resolved) >= _RESOLVE_CACHE_MAX:
        _resolved.clear()
    _resolved[key] = (now + RESOLVE_TTL_S, resolved)
    return resolved


def forget_resolutions() -> None:
    """Drop the resolve cache of this process (after grant changes made here)."""
    _resolved.clear()


async def allowed_router_models(conn: AsyncConnection[Any], team_id: uuid.UUID) -> list[str]:
    """Router models (and their fallbacks) of every model group the team was granted, sorted."""
    models: set[str] = set()
    for row in await repository.list_for_team(conn, team_id):
        models.add(row.router_model)
        models.update(row.fallbacks)
    return sorted(models)


async def sync_router_access(
    pool: AsyncConnectionPool[AsyncConnection[Any]], router: RouterAdmin, team_ids: Iterable[uuid.UUID]
) -> list[uuid.UUID]:
    """PATCH each team's router key with its current allowed models; returns the teams that failed."""
    failed: list[uuid.UUID] = []
    for team_id in dict.fromkeys(team_ids):
        try:
            async with connection(pool) as conn:
                team = await repository.team_get(conn, team_id)
                models = await allowed_router_models(conn, team_id)
            if team is None or not team.router_key_id:
                continue
            await router.patch_key(team.router_key_id, {"allowed_models": models})
        except TollgateError as exc:
            _log.warning("router_key_sync_failed", team_id=str(team_id), error=exc.slug)
            failed.append(team_id)
    forget_resolutions()
    return failed


# ------------------------------------------------------------------ model groups


def _mg_out(row: repository.ModelGroup) -> ModelGroupOut:
    return ModelGroupOut(**msgspec.structs.asdict(row))


async def create_model_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, data: ModelGroupIn
) -> ModelGroupOut:
    async with transaction(pool) as conn:
        row = await repository.model_group_create(
            conn,
            name=data.name,
            router_model=data.router_model,
            fallbacks=list(data.fallbacks),
            description=data.description,
        )
        out = _mg_out(row)
        await audit.record(
            conn, actor, "model_group.create", target_type="model_group", target_id=row.id, after=out
        )
    return out


async def list_model_groups(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> list[ModelGroupOut]:
    async with connection(pool) as conn:
        return [_mg_out(r) for r in await repository.model_group_list(conn)]


async def get_model_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]], group_id: uuid.UUID
) -> ModelGroupOut:
    async with connection(pool) as conn:
        row = await repository.model_group_get(conn, group_id)
    if row is None:
        raise NotFound("Model group not found.")
    return _mg_out(row)


async def update_model_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    router: RouterAdmin,
    actor: Actor,
    group_id: uuid.UUID,
    data: ModelGroupIn,
) -> ModelGroupOut:
    async with transaction(pool) as conn:
        before = await repository.model_group_get(conn, group_id)
        if before is None:
            raise NotFound("Model group not found.")
        row = await repository.model_group_update(
            conn,
            group_id,
            name=data.name,
            router_model=data.router_model,
            fallbacks=list(data.fallbacks),
            description=data.description,
        )
        assert row is not None
        out = _mg_out(row)
        await audit.record(
            conn,
            actor,
            "model_group.update",
            target_type="model_group",
            target_id=group_id,
            before=_mg_out(before),
            after=out,
        )
        teams = await repository.team_ids_of_model_group(conn, group_id)
    await sync_router_access(pool, router, teams)
    return out


async def delete_model_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]], router: RouterAdmin, actor: Actor, group_id: uuid.UUID
) -> None:
    async with transaction(pool) as conn:
        before = await repository.model_group_get(conn, group_id)
        if before is None:
            raise NotFound("Model group not found.")
        teams = await repository.team_ids_of_model_group(conn, group_id)
        await repository.model_group_delete(conn, group_id)
        await audit.record(
            conn,
            actor,
            "model_group.delete",
            target_type="model_group",
            target_id=group_id,
            before=_mg_out(before),
        )
    await sync_router_access(pool, router, teams)


# ------------------------------------------------------------------ access groups


async def _ag_out(conn: AsyncConnection[Any], row: repository.AccessGroup) -> AccessGroupOut:
    members = await repository.access_group_members(conn, row.id)
    return AccessGroupOut(
        id=row.id,
        name=row.name,
        description=row.description,
        model_groups=members,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _member_ids(conn: AsyncConnection[Any], names: list[str]) -> list[uuid.UUID]:
    by_name = {g.name: g.id for g in await repository.model_group_list(conn)}
    missing = sorted(set(names) - set(by_name))
    if missing:
        raise BadRequest(f"Unknown model groups: {', '.join(missing)}")
    return [by_name[n] for n in dict.fromkeys(names)]


async def create_access_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, data: AccessGroupIn
) -> AccessGroupOut:
    async with transaction(pool) as conn:
        ids = await _member_ids(conn, data.model_groups)
        row = await repository.access_group_create(conn, name=data.name, description=data.description)
        await repository.access_group_set_members(conn, row.id, ids)
        out = await _ag_out(conn, row)
        await audit.record(
            conn, actor, "access_group.create", target_type="access_group", target_id=row.id, after=out
        )
    return out


async def list_access_groups(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> list[AccessGroupOut]:
    async with connection(pool) as conn:
        return [await _ag_out(conn, r) for r in await repository.access_group_list(conn)]


async def get_access_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]], group_id: uuid.UUID
) -> AccessGroupOut:
    async with connection(pool) as conn:
        row = await repository.access_group_get(conn, group_id)
        if row is None:
            raise NotFound("Access group not found.")
        return await _ag_out(conn, row)


async def update_access_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    router: RouterAdmin,
    actor: Actor,
    group_id: uuid.UUID,
    data: AccessGroupIn,
) -> AccessGroupOut:
    async with transaction(pool) as conn:
        before_row = await repository.access_group_get(conn, group_id)
        if before_row is None:
            raise NotFound("Access group not found.")
        before = await _ag_out(conn, before_row)
        ids = await _member_ids(conn, data.model_groups)
        row = await repository.access_group_update(
            conn, group_id, name=data.name, description=data.description
        )
        assert row is not None
        await repository.access_group_set_members(conn, group_id, ids)
        out = await _ag_out(conn, row)
        await audit.record(
            conn,
            actor,
            "access_group.update",
            target_type="access_group",
            target_id=group_id,
            before=before,
            after=out,
        )
        teams = await repository.team_ids_of_access_group(conn, group_id)
    await sync_router_access(pool, router, teams)
    return out


async def delete_access_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]], router: RouterAdmin, actor: Actor, group_id: uuid.UUID
) -> None:
    async with transaction(pool) as conn:
        before_row = await repository.access_group_get(conn, group_id)
        if before_row is None:
            raise NotFound("Access group not found.")
        before = await _ag_out(conn, before_row)
        teams = await repository.team_ids_of_access_group(conn, group_id)
        await repository.access_group_delete(conn, group_id)
        await audit.record(
            conn, actor, "access_group.delete", target_type="access_group", target_id=group_id, before=before
        )
    await sync_router_access(pool, router, teams)


# ------------------------------------------------------------------ grants


async def team_grants(pool: AsyncConnectionPool[AsyncConnection[Any]], team_id: uuid.UUID) -> list[GrantOut]:
    async with connection(pool) as conn:
        if await repository.team_get(conn, team_id) is None:
            raise NotFound("Team not found.")
        rows = await repository.team_grants(conn, team_id)
    return [GrantOut(access_group_id=r.id, name=r.name, granted_at=r.granted_at) for r in rows]


async def grant_access_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    router: RouterAdmin,
    actor: Actor,
    team_id: uuid.UUID,
    access_group_id: uuid.UUID,
) -> list[GrantOut]:
    async with transaction(pool) as conn:
        if await repository.team_get(conn, team_id) is None:
            raise NotFound("Team not found.")
        if await repository.access_group_get(conn, access_group_id) is None:
            raise NotFound("Access group not found.")
        changed = await repository.grant(conn, team_id=team_id, access_group_id=access_group_id)
        if changed:
            await audit.record(
                conn,
                actor,
                "team.grant_access_group",
                target_type="team",
                target_id=team_id,
                after={"access_group_id": str(access_group_id)},
            )
    if changed:
        await sync_router_access(pool, router, [team_id])
    return await team_grants(pool, team_id)


async def revoke_access_group(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    router: RouterAdmin,
    actor: Actor,
    team_id: uuid.UUID,
    access_group_id: uuid.UUID,
) -> None:
    async with transaction(pool) as conn:
        changed = await repository.revoke(conn, team_id=team_id, access_group_id=access_group_id)
        if not changed:
            raise NotFound("The team has no such grant.")
        await audit.record(
            conn,
            actor,
            "team.revoke_access_group",
            target_type="team",
            target_id=team_id,
            before={"access_group_id": str(access_group_id)},
        )
    await sync_router_access(pool, router, [team_id])


async def router_models_of_access_groups(
    conn: AsyncConnection[Any], access_group_ids: list[uuid.UUID]
) -> list[str]:
    """Router models a team granted these access groups may use (for a new team's router key)."""
    for group_id in access_group_ids:
        if await repository.access_group_get(conn, group_id) is None:
            raise BadRequest("Unknown access group.")
    return await repository.router_models_of_access_groups(conn, access_group_ids)


async def grant_in(
    conn: AsyncConnection[Any], *, team_id: uuid.UUID, access_group_ids: list[uuid.UUID]
) -> None:
    """Grant access groups inside the caller's transaction (team creation)."""
    for group_id in access_group_ids:
        await repository.grant(conn, team_id=team_id, access_group_id=group_id)
