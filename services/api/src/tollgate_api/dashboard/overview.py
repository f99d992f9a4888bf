"""The overview (today / 7 d / 30 d totals, daily charts, top teams, teams near credit exhaustion),
organization usage charts, and the margin report page with its CSV export. Numbers come from the
finance reports service (``tollgate_api.reports``, rollups), the same as ``/admin/reports``."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromQuery

from tollgate_api.auth.deps import pool_of
from tollgate_api.dashboard import helpers, web
from tollgate_api.reports import service as reports
from tollgate_api.reports.schemas import MarginRow
from tollgate_api.teams import service as teams

NEAR_EXHAUSTION_CREDITS: Final = 1_000
TOP: Final = 5
_SUMMED: Final = (
    "jobs",
    "failed_jobs",
    "calls",
    "failed_calls",
    "cost_micro_usd",
    "revenue_micro_usd",
    "margin_micro_usd",
)


@dataclass(frozen=True, slots=True)
class Totals:
    label: str
    jobs: int = 0
    failed_jobs: int = 0
    calls: int = 0
    failed_calls: int = 0
    cost_micro_usd: int = 0
    revenue_micro_usd: int = 0
    margin_micro_usd: int = 0


def summed(label: str, rows: list[MarginRow]) -> Totals:
    return Totals(label, **{name: sum(getattr(r, name) for r in rows) for name in _SUMMED})


def daily_series(rows: list[MarginRow], days: list[str]) -> dict[str, Any]:
    """Chart.js data: revenue, cost and margin per local day in USD cents (integers), every day present."""
    by_day = {r.group[:10]: r for r in rows}

    def cents(day: str, name: str) -> int:
        row = by_day.get(day)
        return (getattr(row, name) // 10_000) if row else 0

    return {
        "type": "line",
        "y": "USD cents",
        "labels": days,
        "datasets": [
            {"label": "Revenue", "color": "#0b57d0", "data": [cents(d, "revenue_micro_usd") for d in days]},
            {
                "label": "Provider cost",
                "color": "#b3261e",
                "data": [cents(d, "cost_micro_usd") for d in days],
            },
            {"label": "Margin", "color": "#146c2e", "data": [cents(d, "margin_micro_usd") for d in days]},
        ],
    }


def volume_series(rows: list[MarginRow], days: list[str]) -> dict[str, Any]:
    by_day = {r.group[:10]: r for r in rows}
    return {
        "type": "bar",
        "y": "count",
        "labels": days,
        "datasets": [
            {
                "label": "Jobs",
                "color": "#5b7db8",
                "data": [by_day[d].jobs if d in by_day else 0 for d in days],
            },
            {
                "label": "Failed calls",
                "color": "#b3261e",
                "data": [by_day[d].failed_calls if d in by_day else 0 for d in days],
            },
        ],
    }


def _days(tz: ZoneInfo, count: int) -> list[str]:
    today = datetime.datetime.now(tz).date()
    return [(today - datetime.timedelta(days=count - 1 - i)).isoformat() for i in range(count)]


def as_json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def usage_by_day(
    pool: Any, tz: ZoneInfo, *, organization_id: uuid.UUID | None = None
) -> tuple[list[str], list[MarginRow]]:
    days = _days(tz, 30)
    q = reports.margin_query(
        group_by="day",
        from_=days[0],
        to=days[-1],
        tz=tz.key,
        organization_id=str(organization_id) if organization_id else None,
        limit=reports.MAX_LIMIT,
    )
    report = await reports.margin_report(pool, q, paged=False)
    return days, report.rows


async def _team_names(pool: Any, raw_ids: set[str]) -> dict[str, str]:
    """Team names for report rows keyed by team id (one query); the short id when unknown."""
    ids = [i for i in (helpers.parse_uuid(r) for r in raw_ids) if i is not None]
    names = await teams.team_names(pool, ids)
    return {raw: names.get(helpers.parse_uuid(raw) or uuid.UUID(int=0), raw[:8]) for raw in raw_ids}


class OverviewPages(Controller):
    path = web.PREFIX

    @get("/")
    async def overview(self, request: Request[Any, Any, Any]) -> Response[Any]:
        pool = pool_of(request)
        tz = web.tz_of(request)
        days, rows = await usage_by_day(pool, tz)
        by_day = {r.group[:10]: r for r in rows}
        periods = [
            summed("Today", [by_day[d] for d in days[-1:] if d in by_day]),
            summed("Last 7 days", [by_day[d] for d in days[-7:] if d in by_day]),
            summed("Last 30 days", [by_day[d] for d in days if d in by_day]),
        ]
        q = reports.margin_query(
            group_by="team", from_=days[0], to=days[-1], tz=tz.key, limit=reports.MAX_LIMIT
        )
        by_team = (await reports.margin_report(pool, q, paged=False)).rows
        top_spend = sorted(by_team, key=lambda r: (r.revenue_micro_usd, r.group), reverse=True)[:TOP]
        top_margin = sorted(by_team, key=lambda r: (r.margin_micro_usd, r.group), reverse=True)[:TOP]
        names = await _team_names(pool, {r.group for r in top_spend + top_margin})
        near = await teams.teams_near_exhaustion(pool, threshold=NEAR_EXHAUSTION_CREDITS, limit=10)
        return web.page(
            request,
            "overview.html",
            periods=periods,
            money_chart=as_json(daily_series(rows, days)),
            volume_chart=as_json(volume_series(rows, days)),
            top_spend=top_spend,
            top_margin=top_margin,
            names=names,
            near=near,
            threshold=NEAR_EXHAUSTION_CREDITS,
        )


class ReportsPages(Controller):
    path = web.PREFIX + "/reports"

    @get("/")
    async def margin(  # noqa: PLR0917 - Litestar reads the query parameters from this signature
        self,
        request: Request[Any, Any, Any],
        group_by: FromQuery[str] = "team",
        from_: FromQuery[str | None] = None,
        to: FromQuery[str | None] = None,
        sort: FromQuery[str | None] = None,
        organization_id: FromQuery[str | None] = None,
        offset: FromQuery[int] = 0,
    ) -> Response[Any]:
        tz = web.tz_of(request)
        days = _days(tz, 30)
        from_, to = from_ or days[0], to or days[-1]
        q = reports.margin_query(
            group_by=group_by,
            from_=from_,
            to=to,
            tz=tz.key,
            organization_id=organization_id or None,
            sort=sort or "margin",
            order="desc",
            offset=offset,
            limit=50,
        )
        report = await reports.margin_report(pool_of(request), q)
        names = (
            await _team_names(pool_of(request), {r.group for r in report.rows}) if group_by == "team" else {}
        )
        params = {
            "group_by": group_by,
            "from": from_,
            "to": to,
            "tz": tz.key,
            "sort": sort or "margin",
            "order": "desc",
        }
        if organization_id:
            params["organization_id"] = organization_id
        return web.page(
            request,
            "reports.html",
            report=report,
            names=names,
            groups=reports.GROUPS,
            sorts=reports.SORTS,
            filters={
                "group_by": group_by,
                "from": from_,
                "to": to,
                "sort": sort or "margin",
                "organization_id": organization_id or "",
            },
            csv_url="/admin/reports/margin.csv?" + urlencode(params),
            next_offset=offset + 50 if offset + 50 < report.total_rows else None,
        )
