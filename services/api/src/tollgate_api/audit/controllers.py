"""``/admin/audit-log`` (HTTP only)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.params import FromQuery, QueryParameter

from tollgate_api.audit import service
from tollgate_api.audit.service import AuditEntry
from tollgate_api.auth.deps import pool_of


class AuditLogController(Controller):
    path = "/admin/audit-log"
    tags = ["admin: audit"]  # noqa: RUF012

    @get("/", summary="Audit log, newest first (cursor: before_id)")
    async def list_entries(
        self,
        request: Request[Any, Any, Any],
        target_type: FromQuery[str | None] = None,
        target_id: FromQuery[str | None] = None,
        before_id: FromQuery[int | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
    ) -> list[AuditEntry]:
        return await service.list_entries(
            pool_of(request), target_type=target_type, target_id=target_id, before_id=before_id, limit=limit
        )
