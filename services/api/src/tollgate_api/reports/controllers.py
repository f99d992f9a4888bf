"""``/admin/reports``: margin reports, the per-job margin list and drill-down, the team's monthly
statement, each as JSON and as a streamed CSV (``.csv`` routes). Roles admin, finance, operator
(read-only). Parameters: docs/reports.md."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, get
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Stream

from tollgate_api.auth.deps import pool_of
from tollgate_api.auth.guards import require_roles
from tollgate_api.jobs import service as jobs_service
from tollgate_api.reports import export, service
from tollgate_api.reports.schemas import JobMarginDetail, JobMarginList, MarginReport, TeamStatement

CSV: Final = "text/csv"  # Litestar appends "; charset=utf-8" to text/* (it was sent twice)

From = Annotated[str | None, QueryParameter(name="from", description="ISO date or date-time (inclusive)")]
To = Annotated[str | None, QueryParameter(description="ISO date (inclusive) or date-time (exclusive)")]
Tz = Annotated[str, QueryParameter(description="IANA time zone of dates, days, weeks and months")]
Limit = Annotated[int, QueryParameter(ge=1, le=service.MAX_LIMIT)]
Offset = Annotated[int, QueryParameter(ge=0)]
GroupBy = Annotated[
    str, QueryParameter(description="team | organization | job_type | model_group | day | week | month")
]


def _csv(chunks: Any, name: str) -> Stream:
    return Stream(
        chunks, media_type=CSV, headers={"Content-Disposition": f'attachment; filename="{name}.csv"'}
    )


class ReportsController(Controller):
    path = "/admin/reports"
    tags = ["admin: reports"]  # noqa: RUF012
    guards = [require_roles("admin", "operator", "finance")]  # noqa: RUF012

    @staticmethod
    def _margin_query(  # noqa: PLR0917 - mirrors the handlers' query parameters
        group_by: str,
        from_: str | None,
        to: str | None,
        tz: str,
        team_id: str | None,
        organization_id: str | None,
        job_type: str | None,
        model_group: str | None,
        sort: str | None,
        order: str | None,
        offset: int,
        limit: int,
    ) -> service.MarginQuery:
        return service.margin_query(
            group_by=group_by,
            from_=from_,
            to=to,
            tz=tz,
            team_id=team_id,
            organization_id=organization_id,
            job_type=job_type,
            model_group=model_group,
            sort=sort,
            order=order,
            offset=offset,
            limit=limit,
        )

    @get("/margin", summary="Jobs, cost, price, revenue and margin grouped by a dimension or a period")
    async def margin(  # noqa: PLR0917 - Litestar reads the query parameters from this signature
        self,
        request: Request[Any, Any, Any],
        group_by: GroupBy = "team",
        from_: From = None,
        to: To = None,
        tz: Tz = "UTC",
        team_id: FromQuery[str | None] = None,
        organization_id: FromQuery[str | None] = None,
        job_type: FromQuery[str | None] = None,
        model_group: FromQuery[str | None] = None,
        sort: FromQuery[str | None] = None,
        order: FromQuery[str | None] = None,
        offset: Offset = 0,
        limit: Limit = 100,
    ) -> MarginReport:
        q = self._margin_query(
            group_by,
            from_,
            to,
            tz,
            team_id,
            organization_id,
            job_type,
            model_group,
            sort,
            order,
            offset,
            limit,
        )
        return await service.margin_report(pool_of(request), q)

    @get("/margin.csv", media_type=CSV, summary="The margin report as CSV (every group, streamed)")
    async def margin_csv(  # noqa: PLR0917 - Litestar reads the query parameters from this signature
        self,
        request: Request[Any, Any, Any],
        group_by: GroupBy = "team",
        from_: From = None,
        to: To = None,
        tz: Tz = "UTC",
        team_id: FromQuery[str | None] = None,
        organization_id: FromQuery[str | None] = None,
        job_type: FromQuery[str | None] = None,
        model_group: FromQuery[str | None] = None,
        sort: FromQuery[str | None] = None,
        order: FromQuery[str | None] = None,
    ) -> Stream:
        q = self._margin_query(
            group_by, from_, to, tz, team_id, organization_id, job_type, model_group, sort, order, 0, 1
        )
        report = await service.margin_report(pool_of(request), q, paged=False)
        return _csv(export.margin_csv(report.rows), f"margin-by-{group_by}")

    @get("/jobs", summary="Finished jobs with cost, price and margin, newest first (cursor paging)")
    async def jobs(  # noqa: PLR0917 - Litestar reads the query parameters from this signature
        self,
        request: Request[Any, Any, Any],
        from_: From = None,
        to: To = None,
        tz: Tz = "UTC",
        team_id: FromQuery[str | None] = None,
        organization_id: FromQuery[str | None] = None,
        job_type: FromQuery[str | None] = None,
        model_group: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        cursor: FromQuery[str | None] = None,
        limit: Limit = 100,
    ) -> JobMarginList:
        q = service.job_margin_query(
            from_=from_,
            to=to,
            tz=tz,
            team_id=team_id,
            organization_id=organization_id,
            job_type=job_type,
            model_group=model_group,
            status=status,
            cursor=cursor,
            limit=limit,
        )
        return await service.job_margins(pool_of(request), q)

    @get(
        "/jobs.csv",
        media_type=CSV,
        summary="The per-job margin list as CSV (every job of the range, streamed)",
    )
    async def jobs_csv(  # noqa: PLR0917 - Litestar reads the query parameters from this signature
        self,
        request: Request[Any, Any, Any],
        from_: From = None,
        to: To = None,
        tz: Tz = "UTC",
        team_id: FromQuery[str | None] = None,
        organization_id: FromQuery[str | None] = None,
        job_type: FromQuery[str | None] = None,
        model_group: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
    ) -> Stream:
        q = service.job_margin_query(
            from_=from_,
            to=to,
            tz=tz,
            team_id=team_id,
            organization_id=organization_id,
            job_type=job_type,
            model_group=model_group,
            status=status,
        )
        return _csv(export.job_margins_csv(service.iter_job_margins(pool_of(request), q)), "job-margins")

    @get("/jobs/{job_id:str}", summary="One job: calls, cost, price and margin, and its price by model group")
    async def job(self, request: Request[Any, Any, Any], job_id: FromPath[str]) -> JobMarginDetail:
        return await service.job_margin_detail(pool_of(request), jobs_service.parse_job_id(job_id))

    @get("/teams/{team_id:str}/statement", summary="A team's monthly statement (what an invoice needs)")
    async def statement(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[str],
        month: Annotated[str, QueryParameter(description="YYYY-MM")],
        tz: Tz = "UTC",
    ) -> TeamStatement:
        team = service.parse_uuid(team_id, "team_id")
        assert team is not None
        return await service.team_statement(pool_of(request), team, month=month, tz=tz)

    @get("/teams/{team_id:str}/statement.csv", media_type=CSV, summary="The team's monthly statement as CSV")
    async def statement_csv(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[str],
        month: Annotated[str, QueryParameter(description="YYYY-MM")],
        tz: Tz = "UTC",
    ) -> Stream:
        team = service.parse_uuid(team_id, "team_id")
        assert team is not None
        statement = await service.team_statement(pool_of(request), team, month=month, tz=tz)
        return _csv(export.statement_csv(statement), f"statement-{statement.month}")
