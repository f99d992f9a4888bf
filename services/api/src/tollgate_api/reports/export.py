"""CSV rendering of the reports: a header row, then one line per row; money as exact integers.

Each function yields encoded chunks, so a ``litestar.response.Stream`` sends them as they come.
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any, Final

from tollgate_api.reports.schemas import JobMarginRow, MarginRow, TeamStatement

CHUNK_ROWS: Final = 500

MARGIN_COLUMNS: Final = (
    "group",
    "jobs",
    "completed_jobs",
    "failed_jobs",
    "expired_jobs",
    "calls",
    "failed_calls",
    "cache_hit_calls",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_micro_usd",
    "price_credits",
    "revenue_micro_usd",
    "margin_micro_usd",
    "margin_bps",
    "margin_pct",
    "avg_duration_ms",
)
JOB_COLUMNS: Final = (
    "job_id",
    "team_id",
    "organization_id",
    "job_type",
    "status",
    "created_at",
    "finished_at",
    "duration_ms",
    "calls",
    "failed_calls",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_micro_usd",
    "price_credits",
    "revenue_micro_usd",
    "margin_micro_usd",
    "margin_bps",
    "margin_pct",
)
STATEMENT_COLUMNS: Final = (
    "section",
    "name",
    "count",
    "credits",
    "revenue_micro_usd",
    "cost_micro_usd",
    "margin_micro_usd",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def _encode(rows: Iterable[Sequence[Any]]) -> bytes:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerows([_cell(v) for v in row] for row in rows)
    return buf.getvalue().encode()


def _values(obj: Any, columns: Sequence[str]) -> list[Any]:
    return [getattr(obj, c) for c in columns]


async def margin_csv(rows: Sequence[MarginRow]) -> AsyncIterator[bytes]:
    yield _encode([MARGIN_COLUMNS])
    for i in range(0, len(rows), CHUNK_ROWS):
        yield _encode(_values(r, MARGIN_COLUMNS) for r in rows[i : i + CHUNK_ROWS])


async def job_margins_csv(rows: AsyncIterator[JobMarginRow]) -> AsyncIterator[bytes]:
    yield _encode([JOB_COLUMNS])
    batch: list[list[Any]] = []
    async for row in rows:
        batch.append(_values(row, JOB_COLUMNS))
        if len(batch) >= CHUNK_ROWS:
            yield _encode(batch)
            batch = []
    if batch:
        yield _encode(batch)


async def statement_csv(statement: TeamStatement) -> AsyncIterator[bytes]:
    lines: list[list[Any]] = [list(STATEMENT_COLUMNS)]
    lines.extend(
        [
            "job_type",
            r.group,
            r.jobs,
            r.price_credits,
            r.revenue_micro_usd,
            r.cost_micro_usd,
            r.margin_micro_usd,
        ]
        for r in statement.by_job_type
    )
    if statement.totals is not None:
        t = statement.totals
        lines.append(
            ["total", "", t.jobs, t.price_credits, t.revenue_micro_usd, t.cost_micro_usd, t.margin_micro_usd]
        )
    lines.append(["balance", "opening", "", statement.opening_balance, "", "", ""])
    lines.extend(["ledger", line.kind, line.entries, line.amount, "", "", ""] for line in statement.ledger)
    lines.append(["balance", "closing", "", statement.closing_balance, "", "", ""])
    yield _encode(lines)
