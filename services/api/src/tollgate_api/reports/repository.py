"""The only caller of the generated SQL for rollups (rebuild, drift) and the report read models."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

import msgspec
from psycopg import AsyncConnection

from tollgate_api.db import reports as sql
from tollgate_api.db import rollups as rollups_sql
from tollgate_api.db.models import JobCostPart
from tollgate_api.db.reports import (
    ReportJobMarginsRow,
    ReportLedgerSummaryRow,
    ReportMarginGroupsRow,
    ReportTeamRow,
)
from tollgate_api.db.rollups import RollupDriftRow, RollupGlobalDriftRow, RollupTeamDriftRow
from tollgate_api.reports.timerange import Segment

Conn = AsyncConnection[Any]

__all__ = [
    "JobCostPart",
    "ReportJobMarginsRow",
    "ReportLedgerSummaryRow",
    "ReportMarginGroupsRow",
    "ReportTeamRow",
    "RollupDriftRow",
    "RollupGlobalDriftRow",
    "RollupTeamDriftRow",
]


async def rebuild(conn: Conn, *, since: datetime.datetime, until: datetime.datetime) -> tuple[int, int]:
    """Replace parts, job costs and rollups of ``[since, until)`` (UTC month aligned) from raw rows."""
    await rollups_sql.rollup_lock_for_rebuild(conn)
    await rollups_sql.rollup_rebuild_settings(conn)
    await rollups_sql.rollup_delete_range(conn, since=since, until=until)
    await rollups_sql.rollup_global_delete_range(conn, since=since, until=until)
    await rollups_sql.rollup_team_delete_range(conn, since=since, until=until)
    await rollups_sql.job_cost_part_delete_range(conn, since=since, until=until)
    jobs = await rollups_sql.job_cost_rebuild(conn, since=since, until=until)
    await rollups_sql.job_cost_part_rebuild(conn, since=since, until=until)
    rows = await rollups_sql.rollup_rebuild(conn, since=since, until=until)
    rows += await rollups_sql.rollup_global_rebuild(conn, since=since, until=until)
    rows += await rollups_sql.rollup_team_rebuild(conn, since=since, until=until)
    return jobs, rows


async def drift(conn: Conn, *, since: datetime.datetime, until: datetime.datetime) -> list[RollupDriftRow]:
    return await rollups_sql.rollup_drift(conn, since=since, until=until)


async def team_drift(
    conn: Conn, *, since: datetime.datetime, until: datetime.datetime
) -> list[RollupTeamDriftRow]:
    return await rollups_sql.rollup_team_drift(conn, since=since, until=until)


async def global_drift(
    conn: Conn, *, since: datetime.datetime, until: datetime.datetime
) -> list[RollupGlobalDriftRow]:
    return await rollups_sql.rollup_global_drift(conn, since=since, until=until)


async def parts_of_job(conn: Conn, job_id: uuid.UUID) -> list[JobCostPart]:
    return await rollups_sql.job_cost_part_list_by_job(conn, job_id=job_id)


async def margin_groups(
    conn: Conn,
    *,
    group_by: str,
    segments: list[Segment],
    team_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    job_type: str | None,
    model_group: str | None,
) -> list[ReportMarginGroupsRow]:
    """The detailed rollups, or the smallest sums that answer: team-less ones when the report neither
    groups nor filters by team or organization; team ones when it does but neither groups nor filters
    by job type or model group (by team, by organization, or one team's or organization's periods)."""
    grains = [s.grain for s in segments]
    starts = [s.start for s in segments]
    ends = [s.end for s in segments]
    labels = [s.label for s in segments]
    by_team = group_by in ("team", "organization") or team_id is not None or organization_id is not None
    if by_team and group_by not in ("job_type", "model_group") and job_type is None and model_group is None:
        team_rows = await sql.report_margin_groups_team(
            conn,
            group_by=group_by,
            seg_grains=grains,
            seg_starts=starts,
            seg_ends=ends,
            seg_labels=labels,
            team_id=team_id,
            organization_id=organization_id,
        )
        return [ReportMarginGroupsRow(*msgspec.structs.astuple(r)) for r in team_rows]
    if team_id is None and organization_id is None and group_by not in ("team", "organization"):
        rows = await sql.report_margin_groups_global(
            conn,
            group_by=group_by,
            seg_grains=grains,
            seg_starts=starts,
            seg_ends=ends,
            seg_labels=labels,
            job_type=job_type,
            model_group=model_group,
        )
        return [ReportMarginGroupsRow(*msgspec.structs.astuple(r)) for r in rows]
    return await sql.report_margin_groups(
        conn,
        group_by=group_by,
        seg_grains=grains,
        seg_starts=starts,
        seg_ends=ends,
        seg_labels=labels,
        team_id=team_id,
        organization_id=organization_id,
        job_type=job_type,
        model_group=model_group,
    )


async def job_margins(
    conn: Conn,
    *,
    since: datetime.datetime,
    until: datetime.datetime,
    team_id: uuid.UUID | None,
    organization_id: uuid.UUID | None,
    job_type: str | None,
    status: str | None,
    model_group: str | None,
    after: tuple[datetime.datetime, uuid.UUID] | None,
    limit: int,
) -> list[ReportJobMarginsRow]:
    return await sql.report_job_margins(
        conn,
        since=since,
        until=until,
        team_id=team_id,
        organization_id=organization_id,
        job_type=job_type,
        status=status,
        model_group=model_group,
        after_finished_at=after[0] if after else None,
        after_job_id=after[1] if after else None,
        lim=limit,
    )


async def team(conn: Conn, team_id: uuid.UUID) -> ReportTeamRow | None:
    return await sql.report_team(conn, team_id=team_id)


async def ledger_summary(
    conn: Conn, *, team_id: uuid.UUID, since: datetime.datetime, until: datetime.datetime
) -> list[ReportLedgerSummaryRow]:
    return await sql.report_ledger_summary(conn, team_id=team_id, since=since, until=until)


async def balance_before(conn: Conn, *, team_id: uuid.UUID, at: datetime.datetime) -> int:
    row = await sql.report_ledger_balance_before(conn, team_id=team_id, at=at)
    return row.balance if row is not None else 0
