"""HTTP for the job lifecycle under ``/api`` (bearer team API key; the key decides the team).

Statuses are returned lower-case (``pending``, ``in_progress``, ``completed``, ``failed``,
``expired``); inputs accept any case. See docs/job-api.md and COMPAT.md.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, QueryParameter

from tollgate_api.auth.team import TeamPrincipal, provide_team
from tollgate_api.errors import TeamNotFound
from tollgate_api.jobs import examples, service
from tollgate_api.jobs.schemas import (
    CompleteJobRequest,
    CompleteJobResponse,
    CreateJobRequest,
    CreateJobResponse,
    JobList,
    JobView,
    MetadataPatch,
    MetadataView,
    UsageReport,
)
from tollgate_api.jobs.service import JobsContext

JOBS_STATE_KEY = "jobs"


def provide_jobs(state: State) -> JobsContext:
    ctx: JobsContext = state[JOBS_STATE_KEY]
    return ctx


def request_id_of(request: Request[Any, Any, Any]) -> str:
    return str(request.scope.get("state", {}).get("request_id") or "")


def same_team(team: TeamPrincipal, team_id: str) -> None:
    """Alias paths carry a team id; it must be the key's team, else the team "does not exist"."""
    if team_id != str(team.team_id):
        raise TeamNotFound()


Team = NamedDependency[TeamPrincipal]
Jobs = NamedDependency[JobsContext]

API_DEPENDENCIES = {"team": Provide(provide_team), "jobs": Provide(provide_jobs, sync_to_thread=False)}

Limit = Annotated[int, QueryParameter(ge=1, le=service.MAX_PAGE, description="Page size.")]


class JobsController(Controller):
    path = "/api/jobs"
    tags = ["jobs"]  # noqa: RUF012
    dependencies = API_DEPENDENCIES

    @post(
        "/create",
        status_code=201,
        summary="Create a job",
        description=(
            "Creates a job and holds credits for it (the plan's price, or `max_credits` on consumption "
            "plans). 402 when the team's available credits cannot cover the hold; 403 when the team is "
            "paused or suspended. A repeated `idempotency_key` returns the first job."
        ),
    )
    async def create(
        self, data: Annotated[CreateJobRequest, examples.CREATE_JOB], team: Team, jobs: Jobs
    ) -> CreateJobResponse:
        job = await service.create_job(jobs, team, data)
        return CreateJobResponse(
            job_id=str(job.id),
            status=job.status,
            created_at=job.created_at,
            expires_at=job.expires_at,
            credits_held=job.hold_credits,
        )

    @get("/{job_id:str}", summary="Get a job")
    async def get_job(self, job_id: FromPath[str], team: Team, jobs: Jobs) -> JobView:
        job = await service.get_job(jobs, team, service.parse_job_id(job_id))
        return service.view(job)

    @patch("/{job_id:str}/metadata", summary="Merge metadata into a job (shallow)")
    async def patch_metadata(
        self, job_id: FromPath[str], data: Annotated[MetadataPatch, examples.METADATA], team: Team, jobs: Jobs
    ) -> MetadataView:
        return await service.merge_metadata(jobs, team, service.parse_job_id(job_id), data.metadata)

    @post(
        "/{job_id:str}/complete",
        status_code=200,
        summary="Complete or fail a job (exactly once)",
        description=(
            "Prices the job by the team's plan (failed jobs by the plan's failed-job policy), captures "
            "up to the hold and releases the rest. A repeat with the same status returns the first "
            "result; a different status is refused with 409."
        ),
    )
    async def complete(
        self,
        job_id: FromPath[str],
        data: Annotated[CompleteJobRequest, examples.COMPLETE],
        team: Team,
        jobs: Jobs,
    ) -> CompleteJobResponse:
        metadata = dict(data.metadata or {})
        if data.result is not None:
            metadata["result"] = data.result
        return await service.complete_job(
            jobs,
            team,
            service.parse_job_id(job_id),
            status=data.status,
            metadata=metadata,
            error_message=data.error_message,
        )

    @get("/", summary="List the team's jobs (newest first, cursor pagination)")
    async def list_jobs(
        self,
        *,
        team: Team,
        jobs: Jobs,
        limit: Limit = 50,
        status: FromQuery[str | None] = None,
        job_type: FromQuery[str | None] = None,
        created_after: FromQuery[datetime.datetime | None] = None,
        created_before: FromQuery[datetime.datetime | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> JobList:
        return await service.list_jobs(
            jobs,
            team,
            status=status,
            job_type=job_type,
            created_after=created_after,
            created_before=created_before,
            cursor=cursor,
            limit=limit,
        )


class TeamUsageController(Controller):
    """``/api/usage`` and SaaS LiteLLM's team-scoped read paths."""

    path = "/api"
    tags = ["usage"]  # noqa: RUF012
    dependencies = API_DEPENDENCIES

    @get("/usage", summary="Jobs and credits by job type for a month")
    async def usage(
        self,
        team: Team,
        jobs: Jobs,
        period: Annotated[str, QueryParameter(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")],
    ) -> UsageReport:
        return await service.usage_report(jobs, team, period)

    @get("/teams/{team_id:str}/usage", summary="Usage (SaaS LiteLLM path)")
    async def team_usage(
        self,
        team_id: FromPath[str],
        team: Team,
        jobs: Jobs,
        period: Annotated[str, QueryParameter(pattern=r"^\d{4}-\d{2}", description="YYYY-MM")],
    ) -> UsageReport:
        same_team(team, team_id)
        return await service.usage_report(jobs, team, period[:7])

    @get("/teams/{team_id:str}/jobs", summary="Recent jobs (SaaS LiteLLM path; offset or cursor)")
    async def team_jobs(
        self,
        *,
        team_id: FromPath[str],
        team: Team,
        jobs: Jobs,
        limit: Limit = 50,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
    ) -> JobList:
        same_team(team, team_id)
        page = await service.list_jobs(jobs, team, status=status, cursor=cursor, limit=limit, offset=offset)
        page.team_id = str(team.team_id)
        return page
