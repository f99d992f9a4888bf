"""Data-plane insert cost of ``api.llm_calls`` before and after monthly partitioning (migration 0017).

``python -m tests.bench.llm_calls_insert [--rows N] [--rounds R] [--existing M]``

Two throw-away databases on the test Postgres (``TEST_DATABASE_URL``, else embedded): one migrated up
to 0016 (the plain table of 0011), one with every migration (partitioned). Each gets ``--existing``
calls spread over the last 6 months (so indexes have a realistic depth), then the api's own
``calls.repository.insert`` writes ``--rows`` calls per round, one autocommit transaction each, like
the llm-call path; rounds alternate between the two databases so machine noise hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from psycopg import AsyncConnection

from tests.harness.services import postgres_url, with_database
from tollgate_api.calls import repository as calls_repo
from tollgate_common.migrate import apply_migrations

REPO = Path(__file__).resolve().parents[2]
MIGRATIONS = REPO / "db" / "api" / "migrations"


def _migrate(url: str, *, partitioned: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted(MIGRATIONS.glob("*.sql")):
            if partitioned or path.name < "0017":
                shutil.copy(path, tmp)
        apply_migrations(url, schema="api", directory=Path(tmp))


def _prepare(url: str, existing: int) -> tuple[uuid.UUID, uuid.UUID]:
    org, plan, team, job = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO api.organizations (id, name) VALUES (%s, 'bench')", (org,))
        conn.execute(
            "INSERT INTO api.pricing_plans (id, name, kind, usd_micro_per_credit)"
            " VALUES (%s, 'b', 'per_job', 1)",
            (plan,),
        )
        conn.execute(
            "INSERT INTO api.teams (id, organization_id, name, pricing_plan_id, virtual_key_encrypted)"
            " VALUES (%s, %s, 't', %s, 'x')",
            (team, org, plan),
        )
        conn.execute(
            "INSERT INTO api.jobs (id, team_id, plan, hold_credits, expires_at)"
            " SELECT md5(i::text)::uuid, %s, '{}', 0, now() FROM generate_series(0, 999) i",
            (team,),
        )
        conn.execute(
            "INSERT INTO api.jobs (id, team_id, plan, hold_credits, expires_at)"
            " VALUES (%s, %s, '{}', 0, now())",
            (job, team),
        )
        conn.execute(
            "INSERT INTO api.llm_calls"
            " (id, job_id, team_id, model_group, status, prompt_tokens, cost_micro_usd, created_at)"
            " SELECT gen_random_uuid(), md5((i %% 1000)::text)::uuid, %s, 'g', 'succeeded', 100, 10,"
            "        now() - (i::float8 / %s) * interval '180 days'"
            " FROM generate_series(1, %s) i",
            (team, existing, existing),
        )
        conn.execute("ANALYZE api.llm_calls")
    return team, job


def _record(team: uuid.UUID, job: uuid.UUID) -> calls_repo.CallRecord:
    return calls_repo.CallRecord(
        id=uuid.uuid4(), job_id=job, team_id=team, model_group="fast-chat", model_group_id=None, purpose=None,
        router_request_id="req-bench", resolved_model="gpt-4o-mini", deployment="d1", prompt_tokens=120,
        completion_tokens=30, cached_tokens=0, cost_micro_usd=42, latency_ms=350, status="succeeded",
        error_kind=None, error=None, cache_hit=False, attempts=1, streamed=False, finish_reason="stop",
        prompt=None, response_text=None, retain_until=None,
    )  # fmt: skip


async def _round(url: str, team: uuid.UUID, job: uuid.UUID, rows: int) -> list[float]:
    samples: list[float] = []
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await calls_repo.insert(conn, _record(team, job))  # warm-up: prepared statement, caches
        for _ in range(rows):
            started = time.perf_counter()
            await calls_repo.insert(conn, _record(team, job))
            samples.append((time.perf_counter() - started) * 1e6)
    return samples


async def run(
    urls: dict[str, str], setup: dict[str, tuple[uuid.UUID, uuid.UUID]], rows: int, rounds: int
) -> None:
    samples: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(rounds):
        for name, url in urls.items():
            samples[name] += await _round(url, *setup[name], rows)
    print("| table | inserts | mean µs | p50 µs | p99 µs |")
    print("|---|---:|---:|---:|---:|")
    for name, values in samples.items():
        ordered = sorted(values)
        p99 = ordered[int(0.99 * (len(ordered) - 1))]
        print(
            f"| {name} | {len(values):,} | {statistics.fmean(values):.0f} "
            f"| {statistics.median(values):.0f} | {p99:.0f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.llm_calls_insert", description=__doc__)
    parser.add_argument("--rows", type=int, default=1000, help="inserts per round (default 1000)")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per table, alternating (default 6)")
    parser.add_argument("--existing", type=int, default=200_000, help="calls stored before timing")
    args = parser.parse_args(argv)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%H%M%S")
    with postgres_url() as server:
        names = {
            "plain (0011)": f"bench_calls_plain_{stamp}",
            "partitioned (0017)": f"bench_calls_part_{stamp}",
        }
        urls = {label: with_database(server, name) for label, name in names.items()}
        with psycopg.connect(server, autocommit=True) as conn:
            for name in names.values():
                conn.execute(f'CREATE DATABASE "{name}"')
        try:
            setup = {}
            for label, url in urls.items():
                _migrate(url, partitioned=label.startswith("partitioned"))
                setup[label] = _prepare(url, args.existing)
            asyncio.run(run(urls, setup, args.rows, args.rounds))
        finally:
            with psycopg.connect(server, autocommit=True) as conn:
                for name in names.values():
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
