"""A worker process SIGKILLed in the middle of aggregation; then every actor run twice.

Issue 5's "done when": after the restart, job costs (and rollups, where the reports domain provides
``verify_rollups``) equal an independent recomputation from raw llm_calls to the micro-dollar, and
running every actor a second time leaves the same state.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import dramatiq
import psycopg

from tests.reliability import checks
from tests.reliability.stack import Stack
from tests.reliability.traffic import Traffic, drive, make_client
from tollgate_api.settings import ApiSettings
from tollgate_api.worker import actors
from tollgate_api.worker.broker import _actors as declared_actors
from tollgate_api.worker.broker import build_broker, install, stub_broker
from tollgate_common.env import Env

JOBS = 8


def _run_traffic(stack: Stack, *, jobs: int) -> Traffic:
    assert stack.team is not None
    headers = stack.team.headers
    traffic = Traffic()

    async def main() -> None:
        async with make_client(stack.api_url, headers) as client:
            await drive(client, traffic, rate_per_s=20, duration_s=jobs / 20)

    asyncio.run(main())
    return traffic


def _waiting_aggregations(conn: psycopg.Connection[Any]) -> int:
    """Backends of the worker blocked on a lock inside an aggregation transaction."""
    row = conn.execute(
        """SELECT count(*) FROM pg_stat_activity
            WHERE wait_event_type = 'Lock' AND state = 'active' AND pid <> pg_backend_pid()
              AND query ILIKE '%job_costs%'"""
    ).fetchone()
    return int(row[0]) if row else 0


def _snapshot(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Everything aggregation and settlement write, minus the moment it was computed."""
    tables = [
        row[0]
        for row in conn.execute(
            """SELECT table_name FROM information_schema.tables
                WHERE table_schema = 'api' AND table_type = 'BASE TABLE'
                  AND (table_name LIKE '%%rollup%%' OR table_name IN ('job_costs', 'job_cost_parts'))
                ORDER BY 1"""
        ).fetchall()
    ]
    out: dict[str, Any] = {}
    for table in tables:
        columns = [
            row[0]
            for row in conn.execute(
                """SELECT column_name FROM information_schema.columns
                    WHERE table_schema = 'api' AND table_name = %s
                      AND column_name NOT IN ('computed_at', 'updated_at', 'created_at')
                    ORDER BY ordinal_position""",
                (table,),
            ).fetchall()
        ]
        select = ", ".join(f'"{c}"' for c in columns)
        out[table] = sorted(map(repr, conn.execute(f"SELECT {select} FROM api.{table}").fetchall()))
    out["ledger_entries"] = conn.execute("SELECT count(*), sum(amount) FROM api.ledger_entries").fetchone()
    out["team_balances"] = conn.execute("SELECT team_id, balance, held FROM api.team_balances").fetchall()
    out["outbox_pending"] = conn.execute(
        "SELECT count(*) FROM api.job_outbox WHERE processed_at IS NULL"
    ).fetchone()
    return out


def _no_arg_actors() -> list[dramatiq.Actor[Any, Any]]:
    found = []
    for declared in declared_actors:
        params = inspect.signature(declared.fn).parameters.values()
        if all(p.default is not inspect.Parameter.empty for p in params):
            found.append(declared)
    return found


def test_worker_sigkilled_mid_aggregation_then_every_actor_twice(stack: Stack) -> None:
    """Expectation: a worker killed (SIGKILL) while its aggregation transactions are open leaves no
    partial row (the transactions die with the connection); after a restart and one outbox sweep (what
    the scheduler runs), every finished job is aggregated and ``job_costs`` equals a recomputation from
    raw ``llm_calls`` to the micro-dollar (and rollups pass ``verify_rollups`` when it exists). Then
    every actor run twice more (each job's ``aggregate_job``, the sweep, every actor that needs no
    argument) leaves exactly the same costs, rollups, ledger and balances."""
    settings = ApiSettings.from_env(Env(stack.env))
    with stack.connect() as conn, psycopg.connect(stack.database_url, connect_timeout=5) as locker:
        # The test holds the table the aggregation writes: workers block inside their transaction.
        locker.execute("LOCK TABLE api.job_costs IN EXCLUSIVE MODE")
        before = conn.execute("SELECT count(*) FROM api.job_costs").fetchone()
        traffic = _run_traffic(stack, jobs=JOBS)
        assert len(traffic.acked_jobs) == JOBS, traffic.summary()
        deadline = time.monotonic() + 20
        while _waiting_aggregations(conn) == 0:
            assert time.monotonic() < deadline, "no aggregation reached the locked table"
            time.sleep(0.1)
        in_flight = _waiting_aggregations(conn)
        stack.kill("worker")
        locker.rollback()  # release the lock only once the worker is dead
        assert conn.execute("SELECT count(*) FROM api.job_costs").fetchone() == before
        assert checks.pending_aggregations(conn) >= JOBS

        stack.start("worker")
        install(build_broker(settings), settings)
        actors.sweep_job_outbox.send(0)  # the scheduler's safety-net tick
        took = checks.wait_aggregated(conn, timeout_s=60)
        assert not checks.cost_mismatches(conn)
        assert not checks.rollup_mismatches(stack.database_url)
        assert not checks.ledger_problems(conn)
        assert not checks.acknowledged_problems(conn, traffic)
        first = _snapshot(conn)
        print(f"killed with {in_flight} aggregations in flight; all aggregated {took:.1f} s after restart")

        # Every actor twice more, in this process on a stub broker, against the same database.
        stub = stub_broker()
        install(stub, settings)
        worker = dramatiq.Worker(stub, worker_timeout=100)
        worker.start()
        try:
            finished = [
                str(row[0])
                for row in conn.execute(
                    "SELECT id FROM api.jobs WHERE status NOT IN ('pending', 'in_progress')"
                ).fetchall()
            ]
            for _ in range(2):
                for job_id in finished:
                    actors.aggregate_job.send(job_id)
                for declared in _no_arg_actors():
                    declared.send()
                actors.sweep_job_outbox.send(0)
                for queue in list(stub.queues):
                    stub.join(queue, fail_fast=True, timeout=60_000)
                worker.join()
        finally:
            worker.stop()
        assert _snapshot(conn) == first
        assert not checks.cost_mismatches(conn)
        assert not checks.rollup_mismatches(stack.database_url)
        assert not checks.ledger_problems(conn)
