"""Teams: lifecycle (active → paused / suspended → active), settings, and creation.

Creating a team (1) asks the router admin API for the team's virtual key (owner ``team:<id>``, allowed
models = router models of the granted access groups), outside any database transaction; (2) in one
transaction stores the team with that key AES-GCM encrypted, its balance row, its grants, its first
API key and the audit row. If (2) fails, the orphaned router key is blocked best effort (logged).
Status changes and plan changes bump the revocation counter so every replica's auth cache sees them
within a second.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
import structlog
from msgspec import UNSET
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.auth.keyring import require_keyring, virtual_key_aad
from tollgate_api.auth.revocation import Revocations
from tollgate_api.credits import service as credits
from tollgate_api.errors import (
    BadRequest,
    Conflict,
    NotFound,
    RouterUnavailable,
    TeamNotFound,
    TollgateError,
)
from tollgate_api.keys import service as keys
from tollgate_api.modelgroups import service as modelgroups
from tollgate_api.organizations import repository as organizations
from tollgate_api.plans import service as plans
from tollgate_api.routeradmin.client import RouterAdmin
from tollgate_api.teams import repository
from tollgate_api.teams.schemas import TeamCreated, TeamIn, TeamOut, TeamPatch
from tollgate_api.webhooks.events import emit_event
from tollgate_common.crypto import Keyring
from tollgate_common.db import connection, transaction

_log = structlog.get_logger("tollgate.teams")

_TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "pause": ({"active"}, "paused"),
    "suspend": ({"active", "paused"}, "suspended"),
    "resume": ({"paused", "suspended"}, "active"),
}


def _out(row: repository.Team, balance: credits.Balance | None = None) -> TeamOut:
    data = msgspec.structs.asdict(row)
    data.pop("virtual_key_encrypted")
    data.pop("router_key_id")
    return TeamOut(**data, credits=balance)


async def create_team(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    router: RouterAdmin,
    keyring: Keyring | None,
    actor: Actor,
    data: TeamIn,
    *,
    default_job_ttl_s: int = 3600,
) -> TeamCreated:
    ring = require_keyring(keyring)
    team_id = uuid.uuid4()
    async with connection(pool) as conn:
        if await organizations.get(conn, data.organization_id) is None:
            raise BadRequest("Unknown organization.")
        await plans.load_plan(conn, data.pricing_plan_id)
        allowed = await modelgroups.router_models_of_access_groups(conn, list(data.access_groups))
    router_key = await router.create_key(
        owner_ref=f"team:{team_id}",
        allowed_models=allowed,
        rpm=data.rpm,
        tpm=data.tpm,
        metadata={"team_id": str(team_id), "organization_id": str(data.organization_id)},
    )
    try:
        async with transaction(pool) as conn:
            row = await repository.create(
                conn,
                id=team_id,
                organization_id=data.organization_id,
                name=data.name,
                pricing_plan_id=data.pricing_plan_id,
                rpm=data.rpm,
                tpm=data.tpm,
                overdraft_limit=data.overdraft_limit,
                job_ttl_s=data.job_ttl_s or default_job_ttl_s,
                show_tokens=data.show_tokens,
                store_prompts=data.store_prompts,
                retention_days=data.retention_days,
                virtual_key_encrypted=ring.encrypt(router_key.key.get(), associated=virtual_key_aad(team_id)),
                router_key_id=router_key.id,
                metadata=data.metadata,
            )
            await credits.create_account(conn, team_id=team_id, overdraft_limit=data.overdraft_limit)
            await modelgroups.grant_in(conn, team_id=team_id, access_group_ids=list(data.access_groups))
            issued = await keys.issue_in(
                conn, team_id=team_id, name=data.key_name, expires_at=None, created_by=actor.name
            )
            out = _out(row, credits.Balance(balance=0, held=0, available=data.overdraft_limit))
            await audit.record(
                conn,
                actor,
                "team.create",
                target_type="team",
                target_id=team_id,
                after={"team": out, "access_groups": [str(g) for g in data.access_groups]},
            )
    except TollgateError as exc:
        await _retire_router_key(router, router_key.id, team_id)
        if isinstance(exc, Conflict):
            raise Conflict("A team with this name already exists in the organization.") from exc
        raise
    _log.info("team_created", team_id=str(team_id), organization_id=str(data.organization_id))
    return TeamCreated(
        **msgspec.structs.asdict(out), team_id=team_id, api_key=issued.api_key, key_id=issued.id
    )


async def _retire_router_key(router: RouterAdmin, key_id: str, team_id: uuid.UUID) -> None:
    try:
        await router.patch_key(key_id, {"allowed_models": [], "metadata": {"orphaned": True}})
    except TollgateError as exc:
        _log.error("router_key_orphaned", team_id=str(team_id), error=exc.slug)


async def get_team(pool: AsyncConnectionPool[AsyncConnection[Any]], team_id: uuid.UUID) -> TeamOut:
    async with connection(pool) as conn:
        row = await repository.get(conn, team_id)
    if row is None:
        raise TeamNotFound()
    return _out(row, await credits.balance(pool, team_id))


async def list_teams(
    pool: AsyncConnectionPool[AsyncConnection[Any]], *, organization_id: uuid.UUID | None, limit: int = 500
) -> list[TeamOut]:
    async with connection(pool) as conn:
        rows = await repository.list_teams(conn, organization_id=organization_id, limit=limit)
    return [_out(r) for r in rows]


async def update_team(  # noqa: PLR0917 - the composition root's resources, then the request
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    router: RouterAdmin,
    revocations: Revocations,
    actor: Actor,
    team_id: uuid.UUID,
    patch: TeamPatch,
) -> TeamOut:
    async with transaction(pool) as conn:
        before = await repository.get_for_update(conn, team_id)
        if before is None:
            raise TeamNotFound()
        fields: dict[str, Any] = {
            "name": before.name,
            "pricing_plan_id": before.pricing_plan_id,
            "rpm": before.rpm,
            "tpm": before.tpm,
            "overdraft_limit": before.overdraft_limit,
            "job_ttl_s": before.job_ttl_s,
            "show_tokens": before.show_tokens,
            "store_prompts": before.store_prompts,
            "retention_days": before.retention_days,
            "metadata": before.metadata,
        }
        fields.update({k: v for k, v in msgspec.structs.asdict(patch).items() if v is not UNSET})
        if fields["pricing_plan_id"] != before.pricing_plan_id:
            await plans.load_plan(conn, fields["pricing_plan_id"])
        row = await repository.update(conn, team_id, **fields)
        assert row is not None
        if row.overdraft_limit != before.overdraft_limit:
            try:
                await credits.set_overdraft(conn, team_id=team_id, overdraft_limit=row.overdraft_limit)
            except Conflict:
                raise Conflict("The team already uses more overdraft than the new limit.") from None
        out = _out(row)
        await audit.record(
            conn, actor, "team.update", target_type="team", target_id=team_id, before=_out(before), after=out
        )
    await revocations.bump()
    if (row.rpm, row.tpm) != (before.rpm, before.tpm) and row.router_key_id:
        try:
            await router.patch_key(row.router_key_id, {"rpm": row.rpm, "tpm": row.tpm})
        except TollgateError as exc:
            _log.warning("router_key_sync_failed", team_id=str(team_id), error=exc.slug)
    return _out(row, await credits.balance(pool, team_id))


async def change_status(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    revocations: Revocations,
    actor: Actor,
    team_id: uuid.UUID,
    action: str,
) -> TeamOut:
    """``pause`` (no new jobs), ``suspend`` (reads only) or ``resume``; idempotent for the target."""
    allowed_from, target = _TRANSITIONS[action]
    async with transaction(pool) as conn:
        before = await repository.get_for_update(conn, team_id)
        if before is None:
            raise TeamNotFound()
        if before.status == target:
            return _out(before)
        if before.status not in allowed_from:
            raise Conflict(f"A {before.status} team cannot be {target}.")
        row = await repository.set_status(conn, team_id, target)  # type: ignore[arg-type]
        assert row is not None
        out = _out(row)
        await audit.record(
            conn,
            actor,
            f"team.{action}",
            target_type="team",
            target_id=team_id,
            before={"status": before.status},
            after={"status": row.status},
        )
        if target == "suspended":
            await emit_event(
                conn,
                team_id=team_id,
                event="team.suspended",
                payload={"team_id": str(team_id), "status": target, "previous_status": before.status},
                dedupe_key=f"suspend:{uuid.uuid4()}",  # one event per suspension (the transition runs once)
            )
    await revocations.bump()
    _log.info("team_status_changed", team_id=str(team_id), status=target)
    return out


async def sync_router_key(
    pool: AsyncConnectionPool[AsyncConnection[Any]], router: RouterAdmin, team_id: uuid.UUID
) -> None:
    async with connection(pool) as conn:
        if await repository.get(conn, team_id) is None:
            raise NotFound("Team not found.")
    failed = await modelgroups.sync_router_access(pool, router, [team_id])
    if failed:
        raise RouterUnavailable()


class TeamRow(msgspec.Struct, frozen=True):
    """A team in an operator list: identity, status and credits (available = balance - held)."""

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    status: str
    balance: int
    held: int
    available: int


class TeamPage(msgspec.Struct, frozen=True):
    teams: list[TeamRow]
    next_after: tuple[str, uuid.UUID] | None


_STATUSES = frozenset({"active", "paused", "suspended"})


async def team_page(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    *,
    organization_id: uuid.UUID | None = None,
    status: str | None = None,
    name_contains: str | None = None,
    after: tuple[str, uuid.UUID] | None = None,
    limit: int = 50,
) -> TeamPage:
    """One page of teams ordered by name (keyset on name, id) with their balances."""
    if status is not None and status not in _STATUSES:
        raise BadRequest("Unknown team status.")
    limit = max(1, min(limit, 500))
    like = None
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
    async with connection(pool) as conn:
        rows = await repository.page(
            conn,
            organization_id=organization_id,
            status=status,  # type: ignore[arg-type]
            name_like=like,
            after=after,
            limit=limit + 1,
        )
    teams = [
        TeamRow(
            id=r.id,
            organization_id=r.organization_id,
            name=r.name,
            status=r.status,
            balance=r.balance,
            held=r.held,
            available=r.available,
        )
        for r in rows[:limit]
    ]
    next_after = (teams[-1].name, teams[-1].id) if len(rows) > limit else None
    return TeamPage(teams=teams, next_after=next_after)


async def teams_near_exhaustion(
    pool: AsyncConnectionPool[AsyncConnection[Any]], *, threshold: int, limit: int = 10
) -> list[TeamRow]:
    """Active teams whose available credits are at or below ``threshold``, fewest first."""
    async with connection(pool) as conn:
        rows = await repository.near_exhaustion(conn, threshold=threshold, limit=limit)
    return [
        TeamRow(
            id=r.id,
            organization_id=r.organization_id,
            name=r.name,
            status=r.status,
            balance=r.balance,
            held=r.held,
            available=r.available,
        )
        for r in rows
    ]


async def team_names(
    pool: AsyncConnectionPool[AsyncConnection[Any]], ids: list[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Names of the given teams in one query (unknown ids are left out)."""
    if not ids:
        return {}
    async with connection(pool) as conn:
        return await repository.names(conn, ids)
