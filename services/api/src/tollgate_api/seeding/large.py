"""``tollgate seed-large``: a realistic data set at scale, built inside Postgres, resumable by step.

Steps, each one transaction recorded in ``seeding.steps`` (a rerun skips what is done, so an
interrupted run resumes; ``--fresh`` drops the database and starts over):

1. ``reference``: pricing plans (per-job and consumption), organizations, teams (every third on the
   consumption plan), model groups with prices, an access group granted to every team;
2. ``stage``: ``seeding.jobs``, one row per job with every fact decided (see :mod:`.statements`);
3. ``chunk:N``: the jobs of one ordinal range and their calls, oldest first;
4. ``job_costs``, ``ledger``, ``balances``: what the workers and the credits service would have written;
5. ``rollups``: the reports' rollups, rebuilt set-based by ``reports.rebuild_rollups``;
6. then ``ANALYZE``, and the staging table is dropped.

The run's parameters and time span are stored in ``seeding.run``: a rerun with other parameters is
refused (use ``--fresh``); a rerun of a finished run does nothing.
"""

from __future__ import annotations

import datetime
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, LiteralString

import psycopg
from psycopg import AsyncConnection, sql

from tollgate_api.devstack.database import database_name, with_database
from tollgate_api.devstack.database import migrate as migrate_database
from tollgate_api.jobs.service import plan_snapshot
from tollgate_api.plans.pricing import Plan
from tollgate_api.seeding import statements as q
from tollgate_api.seeding.params import SeedParams, time_span
from tollgate_api.usage.partitions import ensure_llm_call_partitions

Say = Callable[[str], None]

# (name, router model, deployment, micro-USD per million tokens: input, cached input, output)
MODEL_GROUPS: Final = (
    ("fast-chat", "gpt-4o-mini", "openai-gpt-4o-mini", 150_000, 75_000, 600_000),
    ("smart-chat", "gpt-4o", "openai-gpt-4o", 2_500_000, 1_250_000, 10_000_000),
    ("claude-fast", "claude-3-5-haiku", "anthropic-haiku", 800_000, 80_000, 4_000_000),
    ("claude-smart", "claude-sonnet-4", "anthropic-sonnet", 3_000_000, 300_000, 15_000_000),
    ("reasoning", "o3-mini", "openai-o3-mini", 1_100_000, 550_000, 4_400_000),
    ("local-llama", "llama-3.1-8b", "vllm-llama-8b", 50_000, 50_000, 80_000),
)
# Job types, most frequent first (a job's type index is floor(u^2 * n)), with the per-job plan's price.
JOB_TYPES: Final = (
    ("summarize", 40),
    ("classify", 10),
    ("extract", 25),
    ("translate", 60),
    ("chat", 80),
    ("agent", 300),
)
USD_MICRO_PER_CREDIT: Final = 1_000  # one credit is a tenth of a cent on both plans
CONSUMPTION_MARKUP_BPS: Final = 4_000
CONSUMPTION_CREDITS_PER_USD: Final = 1_000
CONSUMPTION_HOLD: Final = 20_000
CONSUMPTION_MIN: Final = 1


class SeedConflict(RuntimeError):
    """The database holds a data set made with other parameters."""


@dataclass(frozen=True, slots=True)
class SeedReport:
    url: str
    params: SeedParams
    since: datetime.datetime
    until: datetime.datetime
    steps_run: list[str]
    seconds: float
    counts: dict[str, int]


def _plans(seed: int) -> list[Plan]:
    per_job = Plan(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"tollgate-seed:{seed}:plan:per-job"),
        name="Seed per-job",
        kind="per_job",
        credits_per_job=50,
        per_job_type=dict(JOB_TYPES),
        usd_micro_per_credit=USD_MICRO_PER_CREDIT,
        failed_job_policy="none",
    )
    consumption = Plan(
        id=uuid.uuid5(uuid.NAMESPACE_URL, f"tollgate-seed:{seed}:plan:consumption"),
        name="Seed consumption +40%",
        kind="consumption_usd",
        credits_per_usd=CONSUMPTION_CREDITS_PER_USD,
        markup_bps=CONSUMPTION_MARKUP_BPS,
        min_credits_per_job=CONSUMPTION_MIN,
        usd_micro_per_credit=USD_MICRO_PER_CREDIT,
        failed_job_policy="provider_cost",
        default_hold_credits=CONSUMPTION_HOLD,
        max_hold_credits=CONSUMPTION_HOLD * 5,
    )
    return [per_job, consumption]


async def _run_script(conn: AsyncConnection[Any], script: LiteralString, params: dict[str, Any]) -> int:
    """Run ``;``-separated statements with the same named parameters; returns rows affected."""
    total = 0
    for statement in script.split(";\n"):
        if statement.strip():
            cursor = await conn.execute(sql.SQL(statement.strip()), params)
            total += max(cursor.rowcount, 0)
    return total


async def _reference(conn: AsyncConnection[Any], params: SeedParams, values: dict[str, Any]) -> int:
    await _run_script(conn, q.MODEL_GROUPS_TABLE, {})
    async with conn.cursor() as cursor:
        await cursor.executemany(
            "INSERT INTO seeding.model_groups VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (i, uuid.uuid5(uuid.NAMESPACE_URL, f"tollgate-seed:{params.seed}:mg:{name}"), name, *rest)
                for i, (name, *rest) in enumerate(MODEL_GROUPS)
            ],
        )
        await cursor.executemany(
            "INSERT INTO seeding.job_types VALUES (%s, %s, %s)",
            [(i, name, price) for i, (name, price) in enumerate(JOB_TYPES)],
        )
        plans = _plans(params.seed)
        await cursor.executemany(
            "INSERT INTO seeding.plans VALUES (%s, %s, %s, %s)",
            [(i, p.id, p.usd_micro_per_credit, json.dumps(plan_snapshot(p))) for i, p in enumerate(plans)],
        )
        await cursor.executemany(
            "INSERT INTO api.pricing_plans (id, name, kind, credits_per_job, per_job_type, credits_per_usd, "
            "markup_bps, min_credits_per_job, usd_micro_per_credit, failed_job_policy, default_hold_credits, "
            "max_hold_credits) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (
                    p.id,
                    p.name,
                    p.kind,
                    p.credits_per_job,
                    json.dumps(dict(p.per_job_type)),
                    p.credits_per_usd,
                    p.markup_bps,
                    p.min_credits_per_job,
                    p.usd_micro_per_credit,
                    p.failed_job_policy,
                    p.default_hold_credits,
                    p.max_hold_credits,
                )
                for p in plans
            ],
        )
        await cursor.execute(
            "INSERT INTO api.model_groups (id, name, router_model, description) "
            "SELECT id, name, router_model, 'seeded' FROM seeding.model_groups ORDER BY idx"
        )
    rows = await _run_script(conn, q.ORGANIZATIONS, values)
    return rows + await _run_script(conn, q.TEAMS, values)


def _values(params: SeedParams, since: datetime.datetime, until: datetime.datetime) -> dict[str, Any]:
    divisor = 1_000_000 * 10_000
    return {
        "seed": params.seed,
        "salt": params.seed * 1_000,
        "jobs": params.jobs,
        "teams": params.teams,
        "organizations": params.organizations,
        "calls_per_job": params.calls_per_job,
        "model_groups": len(MODEL_GROUPS),
        "job_types": len(JOB_TYPES),
        "since": since,
        "until": until,
        "span": until - since,
        "consumption_hold": CONSUMPTION_HOLD,
        "consumption_min": CONSUMPTION_MIN,
        "consumption_factor": (10_000 + CONSUMPTION_MARKUP_BPS) * CONSUMPTION_CREDITS_PER_USD,
        "consumption_divisor": divisor,
        "usd_micro_per_credit": USD_MICRO_PER_CREDIT,
    }


async def _done_steps(conn: AsyncConnection[Any]) -> set[str]:
    cursor = await conn.execute("SELECT name FROM seeding.steps")
    return {str(row[0]) for row in await cursor.fetchall()}


async def _step(
    conn: AsyncConnection[Any],
    name: str,
    work: Callable[[], Awaitable[int]],
    *,
    done: set[str],
    say: Say,
    ran: list[str],
) -> None:
    if name in done:
        return
    started = time.perf_counter()
    async with conn.transaction():
        rows = await work()
        seconds = time.perf_counter() - started
        await conn.execute(
            "INSERT INTO seeding.steps (name, rows, seconds) VALUES (%s, %s, %s)", (name, rows, seconds)
        )
    ran.append(name)
    say(f"  {name:<16} {rows:>12,} rows  {seconds:7.1f} s")


def _prepare_database(url: str, *, fresh: bool, say: Say) -> None:
    """Create (``fresh``: drop and recreate) the database, apply migrations. Sync: the CLI's helpers."""
    name = database_name(url)
    admin = with_database(url, "postgres")
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists and fresh:
            say(f"dropping database {name}")
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            exists = None
        if not exists:
            say(f"creating database {name}")
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    applied = migrate_database(url)
    count = sum(len(ids) for ids in applied.values())
    if count:
        say(f"applied {count} migration(s)")


async def _start_run(
    conn: AsyncConnection[Any], params: SeedParams, now: datetime.datetime | None
) -> tuple[datetime.datetime, datetime.datetime, bool]:
    """(since, until, finished) of the run in this database, recording a new one when there is none."""
    await _run_script(conn, q.SETUP, {})
    cursor = await conn.execute("SELECT params, since, until, finished_at FROM seeding.run")
    row = await cursor.fetchone()
    if row is not None:
        if row[0] != params.identity():
            raise SeedConflict(
                f"the database holds a data set made with {json.dumps(row[0], sort_keys=True)}; "
                "rerun with the same parameters to resume, or add --fresh"
            )
        return row[1], row[2], row[3] is not None
    since, until = time_span(params.months, now=now)
    await conn.execute(
        "INSERT INTO seeding.run (params, since, until) VALUES (%s, %s, %s)",
        (json.dumps(params.identity()), since, until),
    )
    return since, until, False


RebuildRollups = Callable[[AsyncConnection[Any], datetime.datetime, datetime.datetime], Awaitable[int]]


async def _rebuild_rollups(
    conn: AsyncConnection[Any], since: datetime.datetime, until: datetime.datetime
) -> int:
    from tollgate_api.reports import service as reports  # noqa: PLC0415 - loaded only for this step

    result = await reports.rebuild_rollups(conn, since=since, until=until)
    return result.rollup_rows


async def seed_large(
    url: str,
    params: SeedParams,
    *,
    fresh: bool = False,
    say: Say = print,
    now: datetime.datetime | None = None,
    rebuild_rollups: RebuildRollups | None = _rebuild_rollups,
) -> SeedReport:
    """Build (or finish building) the data set in database ``url``. ``rebuild_rollups=None`` skips
    the rollups step (for a reports domain that is not there)."""
    started = time.perf_counter()
    _prepare_database(url, fresh=fresh, say=say)
    ran: list[str] = []
    async with await AsyncConnection.connect(url, autocommit=True, connect_timeout=5) as conn:
        await conn.execute("SET synchronous_commit = off")
        await conn.execute("SET work_mem = '256MB'")
        await conn.execute("SET maintenance_work_mem = '512MB'")
        await conn.execute("SET jit = off")
        await conn.execute("SET max_parallel_maintenance_workers = 0")  # the 2-core machines
        since, until, finished = await _start_run(conn, params, now)
        if finished:
            say(
                f"database {database_name(url)} already holds this data set; nothing to do (--fresh rebuilds)"
            )
        else:
            say(
                f"seeding {params.jobs:,} jobs (~{params.jobs * params.calls_per_job:,} calls), "
                f"{params.teams:,} teams in {params.organizations:,} organizations, "
                f"{since:%Y-%m-%d} to {until:%Y-%m-%d}, seed {params.seed}"
            )
            months = (until.year - since.year) * 12 + until.month - since.month
            await ensure_llm_call_partitions(conn, months_back=months + 1)
            await _build(
                conn, params, _values(params, since, until), say=say, ran=ran, rebuild_rollups=rebuild_rollups
            )
        counts = await _counts(conn)
    seconds = time.perf_counter() - started
    say(f"done in {seconds:.1f} s: " + ", ".join(f"{v:,} {k}" for k, v in counts.items()))
    return SeedReport(url, params, since, until, ran, seconds, counts)


async def _build(
    conn: AsyncConnection[Any],
    params: SeedParams,
    values: dict[str, Any],
    *,
    say: Say,
    ran: list[str],
    rebuild_rollups: RebuildRollups | None,
) -> None:
    done = await _done_steps(conn)

    async def step(name: str, work: Callable[[], Awaitable[int]]) -> None:
        await _step(conn, name, work, done=done, say=say, ran=ran)

    async def run(script: LiteralString, extra: dict[str, Any] | None = None) -> int:
        return await _run_script(conn, script, {**values, **(extra or {})})

    await step("reference", lambda: _reference(conn, params, values))
    await step("stage", lambda: run(q.STAGE_JOBS))
    await step("drop_keys", lambda: _drop_keys(conn))
    for lo in range(0, params.jobs, params.chunk_jobs):
        bounds = {"lo": lo, "hi": min(lo + params.chunk_jobs, params.jobs)}

        async def chunk(bounds: dict[str, Any] = bounds) -> int:
            return await run(q.JOBS_CHUNK, bounds) + await run(q.CALLS_CHUNK, bounds)

        await step(f"chunk:{lo // params.chunk_jobs:04d}", chunk)
    await step("rebuild_keys", lambda: _rebuild_keys(conn, say))
    await step("job_costs", lambda: run(q.JOB_COSTS))
    await step("ledger", lambda: run(q.LEDGER))
    await step("balances", lambda: run(q.BALANCES))
    if rebuild_rollups is not None:
        since, until = values["since"], values["until"] + datetime.timedelta(days=1)
        await step("rollups", lambda: rebuild_rollups(conn, since, until))
    analyze_started = time.perf_counter()
    await conn.execute("ANALYZE")
    say(f"  {'analyze':<16} {'':>12}       {time.perf_counter() - analyze_started:7.1f} s")
    await conn.execute("DROP TABLE IF EXISTS seeding.jobs")
    await conn.execute("UPDATE seeding.run SET finished_at = now()")


async def _drop_keys(conn: AsyncConnection[Any]) -> int:
    cursor = await conn.execute(q.SAVE_LLM_CALLS_KEYS)
    saved = cursor.rowcount
    await conn.execute(q.DROP_LLM_CALLS_KEYS)
    return saved


async def _rebuild_keys(conn: AsyncConnection[Any], say: Say) -> int:
    cursor = await conn.execute("SELECT statement FROM seeding.dropped ORDER BY ord")
    statements = [str(row[0]) for row in await cursor.fetchall()]
    for statement in statements:
        started = time.perf_counter()
        await conn.execute(sql.SQL(statement))  # a definition read from the catalog
        say(f"    {statement[:90]}  {time.perf_counter() - started:.1f} s")
    await conn.execute("DELETE FROM seeding.dropped")
    return len(statements)


async def _counts(conn: AsyncConnection[Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in ("organizations", "teams", "jobs", "llm_calls", "ledger_entries", "job_costs"):
        # Planner estimates after ANALYZE: exact counts of 10M rows take seconds.
        cursor = await conn.execute(
            "SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'api' AND c.relkind <> 'p' AND (c.relname = %s OR c.oid IN ("
            "  SELECT inhrelid FROM pg_inherits WHERE inhparent = %s::regclass))",
            (table, f"api.{table}"),
        )
        row = await cursor.fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


@dataclass(frozen=True, slots=True)
class Invariants:
    balance_mismatches: int
    job_cost_mismatches: int
    invalid_indexes: int

    @property
    def ok(self) -> bool:
        return self.balance_mismatches == self.job_cost_mismatches == self.invalid_indexes == 0


async def check_invariants(conn: AsyncConnection[Any], *, sample_percent: float = 1.0) -> Invariants:
    """Balances equal their ledger sums (every team); job cost rows equal a recomputation from their
    calls (a ``sample_percent`` sample of jobs); every index of ``api.llm_calls`` is valid (the bulk
    load rebuilt them). Every count must be 0."""
    cursor = await conn.execute(q.CHECK_BALANCES)
    balances = await cursor.fetchone()
    cursor = await conn.execute(q.CHECK_JOB_COSTS, {"percent": sample_percent})
    costs = await cursor.fetchone()
    cursor = await conn.execute(q.CHECK_INDEXES)
    indexes = await cursor.fetchone()
    return Invariants(
        int(balances[0]) if balances else -1,
        int(costs[0]) if costs else -1,
        int(indexes[0]) if indexes else -1,
    )
