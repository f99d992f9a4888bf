"""`tollgate seed-large` at tiny scale: consistent money (balances == ledger sums, job costs ==
their calls, rollups == an independent recomputation), resumable, refusing other parameters."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import AsyncConnection

from tests.harness.services import with_database
from tollgate_api.cli import main as cli
from tollgate_api.reports import service as reports
from tollgate_api.seeding import SeedConflict, SeedParams, check_invariants, seed_large

TINY = SeedParams(jobs=2_000, calls_per_job=4, teams=20, months=2, seed=7, chunk_jobs=700)


@pytest.fixture
def large_url(pg_server_url: str) -> Iterator[str]:
    name = f"tollgate_large_t_{uuid.uuid4().hex[:10]}"
    yield with_database(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def test_seed_large_builds_a_consistent_data_set(large_url: str) -> None:
    lines: list[str] = []
    report = await seed_large(large_url, TINY, say=lines.append)

    assert "rollups" in report.steps_run
    async with await AsyncConnection.connect(large_url, autocommit=True) as conn:
        invariants = await check_invariants(conn, sample_percent=100)
        assert invariants.ok, invariants
        cursor = await conn.execute(
            "SELECT (SELECT count(*) FROM api.jobs), (SELECT count(*) FROM api.teams),"
            " (SELECT count(DISTINCT organization_id) FROM api.teams), (SELECT count(*) FROM api.job_costs),"
            " (SELECT count(*) FROM api.llm_calls), (SELECT count(DISTINCT status) FROM api.jobs),"
            " (SELECT count(DISTINCT model_group) FROM api.llm_calls),"
            " (SELECT count(*) FROM api.llm_calls_default)"
        )
        jobs, teams, orgs, costs, calls, statuses, groups, in_default = await cursor.fetchone() or ()
        assert (jobs, teams, orgs, costs, statuses, groups, in_default) == (2_000, 20, 1, 2_000, 3, 6, 0)
        assert 2_000 * 3 < calls < 2_000 * 5  # mean 4 per job
        cursor = await conn.execute(
            "SELECT max(n)::float / min(n) FROM (SELECT count(*) AS n FROM api.jobs GROUP BY team_id) t"
        )
        assert (await cursor.fetchone() or (0,))[0] > 10  # a few big teams
        assert await reports.verify_rollups(conn, report.since, report.until) == []


async def test_seed_large_resumes_and_refuses_other_parameters(large_url: str) -> None:
    small = SeedParams(jobs=300, calls_per_job=2, teams=5, months=1, seed=3, chunk_jobs=100)
    first = await seed_large(large_url, small, say=lambda _: None, rebuild_rollups=None)
    assert "chunk:0002" in first.steps_run

    again = await seed_large(large_url, small, say=lambda _: None, rebuild_rollups=None)
    assert again.steps_run == []  # finished: nothing to do
    with pytest.raises(SeedConflict):
        await seed_large(large_url, SeedParams(jobs=301, teams=5), say=lambda _: None)
    fresh = await seed_large(large_url, small, fresh=True, say=lambda _: None, rebuild_rollups=None)
    assert fresh.steps_run == first.steps_run


def test_cli_rejects_bad_sizes_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["seed-large", "--teams", "0"]) == 2
    assert "--teams must be at least 1" in capsys.readouterr().err
