"""Report benchmarks on the large data set: ``python -m tests.bench.reports`` (part of ``make bench``).

Needs the database `make seed-large` builds (``tollgate_large`` on ``TOLLGATE_DATABASE_URL``'s server,
else the dev stack's embedded Postgres; or ``--database-url``). Without it, it says so and exits 0.

1. **Reports**: every margin report grouping (team, organization, job type, model group, day, week,
   month) for the last 90 days of the data set, in UTC and in a quarter-hour zone, with and without
   filters; the per-job margin list; a team's monthly statement; a job's drill-down — through the
   report service functions (pool, SQL, row building) and, unless ``--no-http``, through
   ``/admin/reports/...`` of a real app (auth, validation, JSON encoding). p50 / p99 over ``--runs``.
2. **Aggregation throughput**: ``usage.service.aggregate_job`` over a sample of finished jobs whose
   cost rows and rollup parts are deleted first (so each one is a first aggregation that folds into
   the rollups), one after another on one connection, inside a transaction rolled back at the end
   (the data set is left as it was): jobs/s for one worker thread.

Prints a markdown table and writes ``tests/bench/results/reports.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.reports import service as reports
from tollgate_api.seeding import LargeDatabaseMissing, large_database_url
from tollgate_api.usage import service as usage
from tollgate_common.env import Env

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 300.0
BENCH_ADMIN_EMAIL = "bench-admin@example.test"
BENCH_ADMIN_PASSWORD = "bench admin password for the reports"  # a throw-away login in the bench database


@dataclass
class Timing:
    what: str
    via: str
    samples_ms: list[float]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples_ms)
        return ordered[min(len(ordered) - 1, max(0, round(0.99 * len(ordered) + 0.5) - 1))]


@dataclass
class DataSet:
    since: datetime.datetime
    until: datetime.datetime
    big_team: uuid.UUID
    organization: uuid.UUID
    job: uuid.UUID
    counts: dict[str, int]


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _skip_reason(url: str) -> str | None:
    try:
        async with await AsyncConnection.connect(url, autocommit=True, connect_timeout=5) as conn:
            cursor = await conn.execute(
                "SELECT finished_at IS NOT NULL FROM seeding.run WHERE to_regclass('seeding.run') IS NOT NULL"
            )
            row = await cursor.fetchone()
    except psycopg.errors.UndefinedTable:
        return "the database holds no seed-large data set: run `make seed-large`"
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"large database unreachable ({first}): run `make seed-large`"
    if row is None or not row[0]:
        return "the seed-large data set is not finished: rerun `make seed-large` to resume it"
    return None


async def _data_set(conn: AsyncConnection[Any]) -> DataSet:
    cursor = await conn.execute("SELECT since, until FROM seeding.run")
    row = await cursor.fetchone()
    assert row is not None
    since: datetime.datetime = row[0]
    until: datetime.datetime = row[1]
    cursor = await conn.execute(
        "SELECT team_id FROM api.job_costs WHERE finished_at >= %s"
        " GROUP BY team_id ORDER BY count(*) DESC LIMIT 1",
        (until - datetime.timedelta(days=30),),
    )
    big_team: uuid.UUID = (await cursor.fetchone() or (uuid.UUID(int=0),))[0]
    cursor = await conn.execute("SELECT organization_id FROM api.teams WHERE id = %s", (big_team,))
    organization: uuid.UUID = (await cursor.fetchone() or (uuid.UUID(int=0),))[0]
    cursor = await conn.execute(
        "SELECT id FROM api.jobs WHERE completed_at < %s ORDER BY completed_at DESC LIMIT 1", (until,)
    )
    job: uuid.UUID = (await cursor.fetchone() or (uuid.UUID(int=0),))[0]
    counts: dict[str, int] = {}
    for table in ("teams", "organizations", "jobs", "llm_calls", "rollups"):
        cursor = await conn.execute(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_class c "
            "WHERE c.relkind <> 'p' AND (c.oid = %s::regclass OR c.oid IN "
            "(SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass))",
            (f"api.{table}", f"api.{table}"),
        )
        counts[table] = int((await cursor.fetchone() or (0,))[0])
    return DataSet(since, until, big_team, organization, job, counts)


async def _time(what: str, via: str, runs: int, call: Callable[[], Awaitable[Any]]) -> Timing:
    await call()  # warm-up (plans, caches)
    samples: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    timing = Timing(what, via, samples)
    say(f"  {via:<8} {what:<58} p50 {timing.p50:8.1f} ms  p99 {timing.p99:8.1f} ms")
    return timing


def _cases(ds: DataSet, days: int) -> list[tuple[str, dict[str, Any]]]:
    """(label, /admin/reports/margin parameters) for a ``days``-long range ending at the data's end."""
    last = (ds.until - datetime.timedelta(days=1)).date()
    first = last - datetime.timedelta(days=days - 1)
    base = {"from": first.isoformat(), "to": last.isoformat()}
    cases = [(f"margin by {group}, {days} d", {**base, "group_by": group}) for group in reports.GROUPS]
    cases += [
        (f"margin by day, {days} d, Asia/Kolkata", {**base, "group_by": "day", "tz": "Asia/Kolkata"}),
        (
            f"margin by week, {days} d, America/New_York",
            {**base, "group_by": "week", "tz": "America/New_York"},
        ),
        (f"margin by day, {days} d, biggest team", {**base, "group_by": "day", "team_id": str(ds.big_team)}),
        (
            f"margin by team, {days} d, one org, sort margin",
            {**base, "group_by": "team", "organization_id": str(ds.organization), "sort": "margin"},
        ),
        (
            f"margin by model group, {days} d, job type agent",
            {**base, "group_by": "model_group", "job_type": "agent"},
        ),
    ]
    return cases


def _margin_query(params: dict[str, Any]) -> reports.MarginQuery:
    return reports.margin_query(
        group_by=params["group_by"],
        from_=params["from"],
        to=params["to"],
        tz=params.get("tz", "UTC"),
        team_id=params.get("team_id"),
        organization_id=params.get("organization_id"),
        job_type=params.get("job_type"),
        sort=params.get("sort"),
    )


async def bench_service(pool: AsyncConnectionPool[Any], ds: DataSet, days: int, runs: int) -> list[Timing]:
    timings: list[Timing] = []
    for label, params in _cases(ds, days):
        q = _margin_query(params)

        async def margin(q: reports.MarginQuery = q) -> None:
            await reports.margin_report(pool, q)

        timings.append(await _time(label, "service", runs, margin))
    last = (ds.until - datetime.timedelta(days=1)).date()
    first = (last - datetime.timedelta(days=days - 1)).isoformat()
    jobs_q = reports.job_margin_query(from_=first, to=last.isoformat(), tz="UTC")
    timings.append(
        await _time(
            f"job margins, {days} d, first page", "service", runs, lambda: reports.job_margins(pool, jobs_q)
        )
    )
    team_q = reports.job_margin_query(from_=first, to=last.isoformat(), tz="UTC", team_id=str(ds.big_team))
    timings.append(
        await _time(
            f"job margins, {days} d, biggest team", "service", runs, lambda: reports.job_margins(pool, team_q)
        )
    )
    month = f"{(ds.until - datetime.timedelta(days=ds.until.day)):%Y-%m}"
    timings.append(
        await _time(
            f"statement of the biggest team, {month}",
            "service",
            runs,
            lambda: reports.team_statement(pool, ds.big_team, month=month, tz="UTC"),
        )
    )
    timings.append(
        await _time("job drill-down", "service", runs, lambda: reports.job_margin_detail(pool, ds.job))
    )
    return timings


@contextlib.asynccontextmanager
async def _http_client(url: str) -> AsyncIterator[httpx.AsyncClient]:
    from tests.harness.services import redis_url  # noqa: PLC0415 - only the HTTP part needs Redis
    from tollgate_api.app import create_app  # noqa: PLC0415
    from tollgate_api.settings import ApiSettings  # noqa: PLC0415
    from tollgate_common.crypto import Keyring  # noqa: PLC0415

    with redis_url() as redis:
        env = {
            "TOLLGATE_DATABASE_URL": url,
            "TOLLGATE_REDIS_URL": redis,
            "TOLLGATE_REDIS_PREFIX": f"bench-reports-{uuid.uuid4().hex[:8]}:",
            "TOLLGATE_MIGRATE_ON_START": "false",
            "TOLLGATE_ROUTER_URL": "http://router.invalid",
            "TOLLGATE_ROUTER_ADMIN_TOKEN": "bench",
            "TOLLGATE_API_ENCRYPTION_KEYS": Keyring.new_key_setting("b1"),
            "TOLLGATE_BOOTSTRAP_ADMIN_EMAIL": BENCH_ADMIN_EMAIL,
            "TOLLGATE_BOOTSTRAP_ADMIN_PASSWORD": BENCH_ADMIN_PASSWORD,
            "TOLLGATE_LOG_FORMAT": "json",
            "TOLLGATE_LOG_LEVEL": "WARNING",
            "TOLLGATE_ACCESS_LOG": "false",
        }
        app = create_app(ApiSettings.from_env(Env(env)))
        async with (
            app.lifespan(),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
                base_url="http://api.bench",
            ) as client,
        ):
            login = await client.post(
                "/admin/auth/login", json={"email": BENCH_ADMIN_EMAIL, "password": BENCH_ADMIN_PASSWORD}
            )
            login.raise_for_status()
            client.cookies.clear()
            client.headers["authorization"] = f"Bearer {login.json()['token']}"
            yield client


async def bench_http(url: str, ds: DataSet, days: int, runs: int) -> list[Timing]:
    timings: list[Timing] = []
    async with _http_client(url) as client:

        async def get(path: str, params: dict[str, Any]) -> None:
            response = await client.get(path, params=params)
            if response.status_code != 200:
                raise RuntimeError(f"{path} answered {response.status_code}: {response.text[:200]}")

        for label, params in _cases(ds, days):

            async def margin(p: dict[str, Any] = params) -> None:
                await get("/admin/reports/margin", p)

            timings.append(await _time(label, "http", runs, margin))
        last = (ds.until - datetime.timedelta(days=1)).date()
        first = (last - datetime.timedelta(days=days - 1)).isoformat()
        timings.append(
            await _time(
                f"margin by team, {days} d, CSV",
                "http",
                runs,
                lambda: get(
                    "/admin/reports/margin.csv", {"group_by": "team", "from": first, "to": last.isoformat()}
                ),
            )
        )
    return timings


async def bench_aggregation(url: str, ds: DataSet, jobs: int) -> tuple[int, float]:
    """(jobs aggregated, seconds) for first aggregations, one after another, rolled back after."""
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        cursor = await conn.execute(
            "SELECT id FROM api.jobs TABLESAMPLE SYSTEM (1) WHERE completed_at IS NOT NULL LIMIT %s", (jobs,)
        )
        sample = [row[0] for row in await cursor.fetchall()]
        async with conn.transaction(force_rollback=True):
            await conn.execute("DELETE FROM api.job_cost_parts WHERE job_id = ANY(%s)", (sample,))
            await conn.execute("DELETE FROM api.job_costs WHERE job_id = ANY(%s)", (sample,))
            started = time.perf_counter()
            for job_id in sample:
                await usage.aggregate_job(conn, job_id)
            seconds = time.perf_counter() - started
    return len(sample), seconds


def table(timings: list[Timing], runs: int) -> str:
    lines = [
        f"| report (last 90 days of the data set) | via | p50 ms | p99 ms | under {TARGET_MS:.0f} ms |",
        "|---|---|---:|---:|---|",
    ]
    lines += [
        f"| {t.what} | {t.via} | {t.p50:.1f} | {t.p99:.1f} | {'yes' if t.p99 < TARGET_MS else '**no**'} |"
        for t in timings
    ]
    lines.append(f"\n{runs} runs per row after one warm-up; p99 of {runs} runs is close to the maximum.")
    return "\n".join(lines)


async def run(url: str, args: argparse.Namespace) -> int:
    reason = await _skip_reason(url)
    if reason:
        say(f"reports bench skipped: {reason}")
        return 0
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        ds = await _data_set(conn)
    say(
        "data set: "
        + ", ".join(f"{v:,} {k}" for k, v in ds.counts.items())
        + f", {ds.since:%Y-%m-%d} to {ds.until:%Y-%m-%d}"
    )
    timings: list[Timing] = []
    async with AsyncConnectionPool(
        url, min_size=1, max_size=4, open=False, kwargs={"autocommit": True}
    ) as pool:
        timings += await bench_service(pool, ds, args.days, args.runs)
    if not args.no_http:
        timings += await bench_http(url, ds, args.days, args.runs)
    aggregated, seconds = await bench_aggregation(url, ds, args.aggregate_jobs)
    rate = aggregated / seconds if seconds else 0.0
    say(
        f"  aggregate_job: {aggregated} first aggregations in {seconds:.2f} s = {rate:.0f} jobs/s"
        " (one thread)"
    )
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            f"# Reports at scale — {now}",
            "",
            f"Data set: {', '.join(f'{v:,} {k}' for k, v in ds.counts.items())} "
            f"({ds.since:%Y-%m-%d} to {ds.until:%Y-%m-%d}). Machine: {platform.machine()}, "
            f"{os.cpu_count()} CPUs shared with other work "
            f"(load average {os.getloadavg()[0]:.1f} at the end).",
            "",
            table(timings, args.runs),
            "",
            f"Aggregation (`usage.service.aggregate_job`, first aggregation incl. the rollup fold): "
            f"{aggregated} jobs in {seconds:.2f} s = **{rate:.0f} jobs/s** on one connection, one thread.",
            "",
        ]
    )
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.md").write_text(report, encoding="utf-8")
    slow = [t for t in timings if t.p99 >= TARGET_MS]
    if slow:
        say(f"{len(slow)} report(s) over {TARGET_MS:.0f} ms at p99")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.reports",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", help="default: where `tollgate seed-large` puts it")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per report (default 20)")
    parser.add_argument("--days", type=int, default=90, help="report range in days (default 90)")
    parser.add_argument("--aggregate-jobs", type=int, default=1000, help="jobs aggregated (default 1000)")
    parser.add_argument("--no-http", action="store_true", help="time the service functions only")
    args = parser.parse_args(argv)
    try:
        with large_database_url(Env(), args.database_url, start_embedded=False) as url:
            return asyncio.run(run(url, args))
    except LargeDatabaseMissing as exc:
        say(f"reports bench skipped: {exc}; run `make seed-large`")
        return 0


if __name__ == "__main__":
    sys.exit(main())
