"""Audit-log rows (the only caller of the generated ``audit_log`` queries)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import audit_log as q
from tollgate_api.db.models import AuditLog
from tollgate_common.db import checked

__all__ = ["AuditLog", "add", "list_entries"]


async def add(
    conn: AsyncConnection[Any],
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | None,
    before: Any,
    after: Any,
    ip: str | None,
) -> None:
    await checked(
        q.audit_log_add(
            conn,
            actor=actor,
            action=action,
            target_type=target_type,
            target_id=target_id,
            before=before,
            after=after,
            ip=ip,
        )
    )


async def list_entries(
    conn: AsyncConnection[Any],
    *,
    target_type: str | None,
    target_id: str | None,
    before_id: int | None,
    limit: int,
) -> list[AuditLog]:
    return await checked(
        q.audit_log_list(conn, target_type=target_type, target_id=target_id, before_id=before_id, lim=limit)
    )
