"""Finance report views (admin only). Money is integers: micro-USD and credits; margin % is given as
basis points (``margin_bps``, 1234 = 12.34 %) and as a decimal string (``margin_pct``), never a float."""

from __future__ import annotations

import datetime

import msgspec

from tollgate_api.usage.schemas import AdminJobDetail


class MarginRow(msgspec.Struct):
    """One group of a margin report (``group`` is the team id, organization id, job type, model
    group, or the local day / week start / month, by ``group_by``)."""

    group: str
    jobs: int
    completed_jobs: int
    failed_jobs: int
    expired_jobs: int
    calls: int
    failed_calls: int
    cache_hit_calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_micro_usd: int
    price_credits: int
    revenue_micro_usd: int
    margin_micro_usd: int
    margin_bps: int | None  # margin / revenue in basis points; None when revenue is 0
    margin_pct: str | None  # the same as a decimal string, "12.34"
    avg_duration_ms: int | None


class MarginReport(msgspec.Struct):
    group_by: str
    tz: str
    from_: datetime.datetime = msgspec.field(name="from")
    to: datetime.datetime = msgspec.field(name="to")
    sort: str = "key"
    order: str = "asc"
    offset: int = 0
    limit: int = 100
    total_rows: int = 0
    totals: MarginRow | None = None
    rows: list[MarginRow] = msgspec.field(default_factory=list)


class JobMarginRow(msgspec.Struct):
    job_id: str
    team_id: str
    organization_id: str
    job_type: str | None
    status: str
    created_at: datetime.datetime
    finished_at: datetime.datetime
    duration_ms: int
    calls: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_micro_usd: int
    price_credits: int
    revenue_micro_usd: int
    margin_micro_usd: int
    margin_bps: int | None
    margin_pct: str | None


class JobMarginList(msgspec.Struct):
    tz: str
    from_: datetime.datetime = msgspec.field(name="from")
    to: datetime.datetime = msgspec.field(name="to")
    rows: list[JobMarginRow] = msgspec.field(default_factory=list)
    next_cursor: str | None = None


class JobPartView(msgspec.Struct):
    """A job's share by model group: its calls and cost, and the part of its price allocated to it."""

    model_group: str
    primary: bool
    calls: int
    failed_calls: int
    cache_hit_calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_micro_usd: int
    price_credits: int
    revenue_micro_usd: int
    margin_micro_usd: int


class JobMarginDetail(msgspec.Struct):
    job_id: str
    duration_ms: int | None
    cost_micro_usd: int
    price_credits: int
    revenue_micro_usd: int
    margin_micro_usd: int
    margin_bps: int | None
    margin_pct: str | None
    by_model_group: list[JobPartView]
    job: AdminJobDetail


class LedgerLine(msgspec.Struct):
    kind: str
    entries: int
    amount: int  # credits, signed as in the ledger


class TeamStatement(msgspec.Struct):
    """What an invoice needs for one team and month: jobs and credits by job type, revenue, cost,
    margin, and the credit movements of the month with opening and closing balances."""

    team_id: str
    team_name: str
    organization_id: str
    organization_name: str
    month: str
    tz: str
    from_: datetime.datetime = msgspec.field(name="from")
    to: datetime.datetime = msgspec.field(name="to")
    credits_used: int = 0
    opening_balance: int = 0
    closing_balance: int = 0
    totals: MarginRow | None = None
    by_job_type: list[MarginRow] = msgspec.field(default_factory=list)
    ledger: list[LedgerLine] = msgspec.field(default_factory=list)


class RollupDrift(msgspec.Struct):
    """A stored rollup row that differs from the recomputation from raw rows (missing = zeros);
    ``scope`` "team" for ``api.rollups``, "global" for the team-less ``api.rollups_global``,
    "team_total" for ``api.rollups_team`` (no job type or model group)."""

    scope: str
    grain: str
    bucket: datetime.datetime
    team_id: str | None
    job_type: str | None
    model_group: str | None
    expected: dict[str, int]
    stored: dict[str, int]


class RebuildResult(msgspec.Struct):
    since: datetime.datetime
    until: datetime.datetime
    jobs: int
    rollup_rows: int
