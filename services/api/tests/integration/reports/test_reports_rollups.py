"""Folding jobs into the rollups is exact and idempotent: the worker's per-job fold equals the
set-based rebuild from raw jobs + llm_calls to the micro-dollar, run twice or concurrently."""

from __future__ import annotations

import asyncio
from typing import Any

from tollgate_api.reports import service as reports
from tollgate_api.usage import service as usage

from .conftest import Call, RawWorld, at

SINCE = at("2026-10-01T00:00:00Z")
UNTIL = at("2027-01-01T00:00:00Z")


async def fold(raw: RawWorld, *job_ids: Any) -> None:
    async with raw.pool.connection() as conn:
        for job_id in job_ids:
            await usage.aggregate_job(conn, job_id)


async def mixed_jobs(raw: RawWorld) -> dict[str, Any]:
    a = await raw.team()
    b = await raw.team()
    jobs = {
        # 10 credits over three equal costs: 4 / 3 / 3, the extra credit to g-a (tie by name)
        "three_groups": await raw.job(
            a,
            price=10,
            finished="2026-11-01T23:30:00Z",
            calls=[
                Call("g-a", 500),
                Call("g-a", 500),
                Call("g-b", 1000),
                Call("g-c", 1000, cached=7, cache_hit=True),
            ],
        ),
        # a failed job whose calls cost nothing: its 3 credits split by call count, 2 / 1
        "failed_free": await raw.job(
            a,
            price=3,
            status="failed",
            finished="2026-11-02T08:00:00Z",
            calls=[Call("g-a", status="failed"), Call("g-a", status="failed"), Call("g-b")],
        ),
        "expired_no_calls": await raw.job(
            b, status="expired", job_type=None, finished="2026-11-03T00:00:00Z"
        ),
        "summary": await raw.job(
            b,
            price=7,
            usd_micro_per_credit=3_333,
            job_type="summary",
            finished="2026-11-15T10:07:13.250Z",
            calls=[Call("g-b", 5_000), Call("g-c", 2_500)],
        ),
        "late_october": await raw.job(a, price=1, finished="2026-10-31T23:59:59Z", calls=[Call("g-c", 9)]),
        "open": await raw.job(a, status="in_progress", finished=None, calls=[Call("g-a", 100)]),
    }
    return {"a": a, "b": b, **jobs}


async def test_folded_rollups_equal_the_rebuild_from_raw_rows_to_the_micro_dollar(raw: RawWorld) -> None:
    w = await mixed_jobs(raw)
    await fold(
        raw, *(w[k] for k in ("three_groups", "failed_free", "expired_no_calls", "summary", "late_october"))
    )
    await fold(raw, w["open"])  # still open: nothing folded

    async with raw.pool.connection() as conn:
        assert await reports.verify_rollups(conn, SINCE, UNTIL) == []
    folded = await raw.rollups()

    # the month buckets hold every finished job exactly once, and every credit and micro-dollar
    assert await raw.scalar("SELECT sum(jobs) FROM api.rollups WHERE grain = 'm'") == 5
    assert await raw.scalar("SELECT sum(price_credits) FROM api.rollups WHERE grain = 'm'") == 21
    assert await raw.scalar("SELECT sum(revenue_micro_usd) FROM api.rollups WHERE grain = 'm'") == (
        10 * 10_000 + 3 * 10_000 + 7 * 3_333 + 1 * 10_000
    )
    assert (
        await raw.scalar("SELECT sum(cost_micro_usd) FROM api.rollups WHERE grain = 'q'") == 3000 + 7500 + 9
    )
    assert (
        await raw.scalar("SELECT sum(failed_jobs) + sum(expired_jobs) FROM api.rollups WHERE grain = 'd'")
        == 2
    )
    shares = await raw.scalar(
        "SELECT string_agg(model_group || '=' || price_credits, ',' ORDER BY model_group)"
        " FROM api.job_cost_parts WHERE job_id = %s",
        w["three_groups"],
    )
    assert shares == "g-a=4,g-b=3,g-c=3"
    assert (
        await raw.scalar(
            "SELECT string_agg(model_group || '=' || price_credits, ',' ORDER BY model_group)"
            " FROM api.job_cost_parts WHERE job_id = %s",
            w["failed_free"],
        )
        == "g-a=2,g-b=1"
    )

    async with raw.pool.connection() as conn:
        result = await reports.rebuild_rollups(conn, since=SINCE, until=UNTIL)
    assert result.jobs == 5
    assert await raw.rollups() == folded


async def test_folding_twice_or_concurrently_leaves_identical_rollups(raw: RawWorld) -> None:
    w = await mixed_jobs(raw)
    await fold(raw, w["three_groups"], w["summary"])
    once = await raw.rollups()
    await fold(raw, w["three_groups"], w["summary"])
    assert await raw.rollups() == once

    async def aggregate(job_id: Any) -> None:
        async with raw.pool.connection() as conn:
            await usage.aggregate_job(conn, job_id)

    await asyncio.gather(*(aggregate(w["failed_free"]) for _ in range(6)))
    # failed_free counted once although aggregated six times at the same time
    assert await raw.scalar("SELECT sum(jobs) FROM api.rollups WHERE grain = 'm'") == 3
    assert await raw.scalar("SELECT sum(price_credits) FROM api.rollups WHERE grain = 'h'") == 20
    await fold(raw, w["expired_no_calls"], w["late_october"])
    async with raw.pool.connection() as conn:
        assert await reports.verify_rollups(conn, SINCE, UNTIL) == []


async def test_a_late_call_refolds_only_the_difference(raw: RawWorld) -> None:
    a = await raw.team()
    job = await raw.job(a, price=5, calls=[Call("g-a", 100)])
    await fold(raw, job)
    await raw.call(a, job, Call("g-b", 300))
    await fold(raw, job)
    async with raw.pool.connection() as conn:
        assert await reports.verify_rollups(conn, SINCE, UNTIL) == []
    assert await raw.scalar("SELECT sum(jobs) FROM api.rollups WHERE grain = 'd'") == 1
    assert await raw.scalar("SELECT sum(price_credits) FROM api.rollups WHERE grain = 'd'") == 5
    assert await raw.scalar("SELECT sum(cost_micro_usd) FROM api.rollups WHERE grain = 'd'") == 400


async def test_verify_reports_a_planted_drift_exactly(raw: RawWorld) -> None:
    a = await raw.team()
    job = await raw.job(a, price=2, finished="2026-11-20T10:20:00Z", calls=[Call("g-a", 1234)])
    await fold(raw, job)
    async with raw.pool.connection() as conn:
        await conn.execute("UPDATE api.rollups SET cost_micro_usd = cost_micro_usd + 17 WHERE grain = 'h'")
        drift = await reports.verify_rollups(conn, SINCE, UNTIL)
    assert len(drift) == 1
    assert drift[0].grain == "h"
    assert drift[0].bucket == at("2026-11-20T10:00:00Z")
    assert drift[0].stored["cost_micro_usd"] - drift[0].expected["cost_micro_usd"] == 17
    assert {k for k in drift[0].expected if drift[0].expected[k] != drift[0].stored[k]} == {"cost_micro_usd"}

    async with raw.pool.connection() as conn:
        await conn.execute("UPDATE api.rollups_global SET jobs = jobs - 1 WHERE grain = 'm'")
        drift = await reports.verify_rollups(conn, SINCE, UNTIL)
    assert [(d.scope, d.grain) for d in drift] == [("team", "h"), ("global", "m")]
    assert (drift[1].expected["jobs"], drift[1].stored["jobs"]) == (1, 0)

    async with raw.pool.connection() as conn:
        await reports.rebuild_rollups(
            conn, since=at("2026-11-20T00:00:00Z"), until=at("2026-11-21T00:00:00Z")
        )
        assert await reports.verify_rollups(conn, SINCE, UNTIL) == []


async def test_rebuild_is_safe_next_to_a_fold(raw: RawWorld) -> None:
    a = await raw.team()
    # same team, job type and buckets; some jobs in two model groups, some in one: every fold
    # touches shared rows, in the same order
    jobs = [
        await raw.job(
            a, price=3, calls=[Call("g-a", 10 * i + 1), Call("g-b", 5)] if i % 2 else [Call("g-b", 7)]
        )
        for i in range(8)
    ]

    async def rebuild() -> None:
        async with raw.pool.connection() as conn:
            await reports.rebuild_rollups(conn, since=SINCE, until=UNTIL)

    async def aggregate(job_id: Any) -> None:
        async with raw.pool.connection() as conn:
            await usage.aggregate_job(conn, job_id)

    await asyncio.gather(rebuild(), *(aggregate(j) for j in jobs), rebuild())
    async with raw.pool.connection() as conn:
        assert await reports.verify_rollups(conn, SINCE, UNTIL) == []
    assert await raw.scalar("SELECT sum(jobs) FROM api.rollups WHERE grain = 'm'") == 8
