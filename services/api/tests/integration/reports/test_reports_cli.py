"""`tollgate rollups verify|rebuild`: operators find drift with one command and repair it with another."""

from __future__ import annotations

import asyncio
from typing import Any

from tollgate_api.cli import main as cli_main
from tollgate_api.usage import service as usage

from .conftest import Call, RawWorld


async def run_cli(monkeypatch: Any, database_url: str, *args: str) -> int:
    monkeypatch.setenv("TOLLGATE_DATABASE_URL", database_url)
    return await asyncio.to_thread(
        cli_main, ["rollups", *args, "--since", "2026-11-01", "--until", "2026-12-01"]
    )


async def test_verify_finds_planted_drift_and_rebuild_repairs_it(
    raw: RawWorld, database_url: str, monkeypatch: Any, capsys: Any
) -> None:
    team = await raw.team()
    job = await raw.job(team, price=5, finished="2026-11-05T10:00:00Z", calls=[Call("g-a", 700)])
    async with raw.pool.connection() as conn:
        await usage.aggregate_job(conn, job)
    assert await run_cli(monkeypatch, database_url, "verify") == 0

    async with raw.pool.connection() as conn:
        await conn.execute("UPDATE api.rollups SET cost_micro_usd = cost_micro_usd + 1")
    assert await run_cli(monkeypatch, database_url, "verify") == 1
    assert "differ from a recomputation" in capsys.readouterr().err

    assert await run_cli(monkeypatch, database_url, "rebuild") == 0
    assert await run_cli(monkeypatch, database_url, "verify") == 0


def test_a_backwards_range_is_a_usage_error(capsys: Any) -> None:
    assert cli_main(["rollups", "verify", "--since", "2026-12-01", "--until", "2026-11-01"]) == 2
    assert "--since must be before --until" in capsys.readouterr().err
