"""Jobs across teams: search by team, type, status and time (keyset pages), and one job's detail with
its call timeline, tokens, cost, price and margin (the same service as ``/admin/jobs``)."""

from __future__ import annotations

import datetime
from typing import Any, Final
from zoneinfo import ZoneInfo

from litestar import Controller, Request, Response, get
from litestar.params import FromPath, FromQuery

from tollgate_api.auth.deps import pool_of
from tollgate_api.dashboard import helpers, web
from tollgate_api.errors import BadRequest
from tollgate_api.jobs import service as jobs_service
from tollgate_api.jobs.schemas import JOB_STATUSES
from tollgate_api.usage import service as usage

PAGE: Final = 50


def _local_time(value: str | None, tz: ZoneInfo, name: str) -> datetime.datetime | None:
    """A ``datetime-local`` input (the operator's zone) as an aware datetime."""
    if not value:
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{name} must be a date and time.") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


class JobsPages(Controller):
    path = web.PREFIX + "/jobs"

    @get("/")
    async def list_page(  # noqa: PLR0917 - Litestar reads the query parameters from this signature
        self,
        request: Request[Any, Any, Any],
        team_id: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        job_type: FromQuery[str | None] = None,
        created_after: FromQuery[str | None] = None,
        created_before: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> Response[Any]:
        tz = web.tz_of(request)
        team = helpers.parse_uuid(team_id)
        if team_id and team is None:
            raise BadRequest("Team must be a team id.")
        result = await usage.admin_list_jobs(
            pool_of(request),
            team_id=team,
            status=status or None,
            cursor=cursor or None,
            limit=PAGE,
            job_type=job_type or None,
            created_after=_local_time(created_after, tz, "From"),
            created_before=_local_time(created_before, tz, "To"),
        )
        filters = {
            "team_id": team_id or "",
            "status": status or "",
            "job_type": job_type or "",
            "created_after": created_after or "",
            "created_before": created_before or "",
        }
        return web.page(
            request,
            "jobs/list.html",
            jobs=result.jobs,
            next_cursor=result.next_cursor,
            filters=filters,
            statuses=JOB_STATUSES,
        )

    @get("/{job_id:str}")
    async def detail(self, request: Request[Any, Any, Any], job_id: FromPath[str]) -> Response[Any]:
        job = await usage.admin_job_detail(pool_of(request), jobs_service.parse_job_id(job_id))
        return web.page(request, "jobs/detail.html", job=job)
