"""Organization rows (the only caller of the generated ``organizations`` queries)."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import organizations as q
from tollgate_api.db.models import Organization, OrganizationStatus
from tollgate_common.db import checked

__all__ = ["Organization", "OrganizationStatus", "create", "get", "list_all", "page", "update"]


async def create(conn: AsyncConnection[Any], *, name: str, metadata: dict[str, Any]) -> Organization:
    row = await checked(
        q.organization_create(conn, id=uuid.uuid4(), name=name, status="active", metadata=metadata)
    )
    assert row is not None
    return row


async def get(conn: AsyncConnection[Any], org_id: uuid.UUID) -> Organization | None:
    return await checked(q.organization_get(conn, id=org_id))


async def list_all(conn: AsyncConnection[Any], *, limit: int) -> list[Organization]:
    return await checked(q.organization_list(conn, lim=limit))


async def update(
    conn: AsyncConnection[Any],
    org_id: uuid.UUID,
    *,
    name: str | None,
    status: OrganizationStatus | None,
    metadata: dict[str, Any] | None,
) -> Organization | None:
    return await checked(q.organization_update(conn, id=org_id, name=name, status=status, metadata=metadata))


async def page(
    conn: AsyncConnection[Any], *, name_like: str | None, after: tuple[str, uuid.UUID] | None, limit: int
) -> list[Organization]:
    return await checked(
        q.organization_page(
            conn,
            name_like=name_like,
            after_name=after[0] if after else None,
            after_id=after[1] if after else None,
            lim=limit,
        )
    )
