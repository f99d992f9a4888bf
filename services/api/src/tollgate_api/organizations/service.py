"""Organizations: a name, a status and free-form metadata; teams belong to one."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from msgspec import UNSET
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.auth.revocation import Revocations
from tollgate_api.errors import NotFound
from tollgate_api.organizations import repository
from tollgate_api.organizations.schemas import OrganizationIn, OrganizationOut, OrganizationPatch
from tollgate_common.db import connection, transaction


def _out(row: repository.Organization) -> OrganizationOut:
    return OrganizationOut(**msgspec.structs.asdict(row))


async def create_organization(
    pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, data: OrganizationIn
) -> OrganizationOut:
    async with transaction(pool) as conn:
        out = _out(await repository.create(conn, name=data.name, metadata=data.metadata))
        await audit.record(
            conn, actor, "organization.create", target_type="organization", target_id=out.id, after=out
        )
    return out


async def list_organizations(
    pool: AsyncConnectionPool[AsyncConnection[Any]], *, limit: int = 500
) -> list[OrganizationOut]:
    async with connection(pool) as conn:
        return [_out(r) for r in await repository.list_all(conn, limit=limit)]


async def get_organization(
    pool: AsyncConnectionPool[AsyncConnection[Any]], org_id: uuid.UUID
) -> OrganizationOut:
    async with connection(pool) as conn:
        row = await repository.get(conn, org_id)
    if row is None:
        raise NotFound("Organization not found.")
    return _out(row)


async def update_organization(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    revocations: Revocations,
    actor: Actor,
    org_id: uuid.UUID,
    data: OrganizationPatch,
) -> OrganizationOut:
    """Rename, re-tag or disable; a disabled organization's teams are treated as suspended."""
    async with transaction(pool) as conn:
        before = await repository.get(conn, org_id)
        if before is None:
            raise NotFound("Organization not found.")
        row = await repository.update(
            conn,
            org_id,
            name=None if data.name is UNSET else data.name,
            status=None if data.status is UNSET else data.status,
            metadata=None if data.metadata is UNSET else data.metadata,
        )
        assert row is not None
        out = _out(row)
        await audit.record(
            conn,
            actor,
            "organization.update",
            target_type="organization",
            target_id=org_id,
            before=_out(before),
            after=out,
        )
    if before.status != out.status:
        await revocations.bump()
    return out


async def organization_page(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    *,
    name_contains: str | None = None,
    after: tuple[str, uuid.UUID] | None = None,
    limit: int = 50,
) -> tuple[list[OrganizationOut], tuple[str, uuid.UUID] | None]:
    """One page of organizations by name (keyset on name, id) and the position of the next page."""
    limit = max(1, min(limit, 500))
    like = None
    if name_contains:
        escaped = name_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        like = f"%{escaped}%"
    async with connection(pool) as conn:
        rows = await repository.page(conn, name_like=like, after=after, limit=limit + 1)
    orgs = [_out(r) for r in rows[:limit]]
    return orgs, ((orgs[-1].name, orgs[-1].id) if len(rows) > limit else None)
