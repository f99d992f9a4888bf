"""``/admin/jobs``: the operator view of jobs WITH their internals (cost, price, margin, each call's
model, deployment and tokens). Roles admin, operator and finance (read-only)."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery, QueryParameter

from tollgate_api.auth.guards import require_roles
from tollgate_api.errors import BadRequest
from tollgate_api.jobs import service as jobs_service
from tollgate_api.jobs.controllers import JOBS_STATE_KEY
from tollgate_api.jobs.service import JobsContext
from tollgate_api.usage import service as usage
from tollgate_api.usage.schemas import AdminJobDetail, AdminJobList


class AdminJobsController(Controller):
    path = "/admin/jobs"
    tags = ["admin: jobs"]  # noqa: RUF012
    guards = [require_roles("admin", "operator", "finance")]  # noqa: RUF012

    @get("/", summary="Jobs of every team with cost, price and margin (newest first)")
    async def list_jobs(
        self,
        state: State,
        limit: Annotated[int, QueryParameter(ge=1, le=jobs_service.MAX_PAGE)] = 50,
        team_id: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> AdminJobList:
        ctx: JobsContext = state[JOBS_STATE_KEY]
        team: uuid.UUID | None = None
        if team_id:
            try:
                team = uuid.UUID(team_id)
            except ValueError:
                raise BadRequest("team_id must be a UUID") from None
        return await usage.admin_list_jobs(ctx.pool, team_id=team, status=status, cursor=cursor, limit=limit)

    @get("/{job_id:str}", summary="One job with its calls, cost, price and margin")
    async def get_job(self, state: State, job_id: FromPath[str]) -> AdminJobDetail:
        ctx: JobsContext = state[JOBS_STATE_KEY]
        return await usage.admin_job_detail(ctx.pool, jobs_service.parse_job_id(job_id))
