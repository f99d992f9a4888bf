"""/admin/reports over HTTP: a job completed through the job API and aggregated by the worker shows
its margin; time zones move jobs between days; CSV exports stream every row with exact integers;
finance reads, anonymous callers get 401, bad parameters get a 400 problem."""

from __future__ import annotations

import asyncio
import csv
import datetime
import io
import uuid
from typing import Any

import dramatiq
import httpx
import pytest

from tests.fakes import Behavior
from tests.jobs_support import GROUP, job_world
from tollgate_api.reports import service as reports_service
from tollgate_api.usage import service as usage
from tollgate_api.worker import actors
from tollgate_api.worker.broker import install, stub_broker

from .conftest import Call, RawWorld

ADMIN = {"BOOTSTRAP_ADMIN_EMAIL": "boss@example.test", "BOOTSTRAP_ADMIN_PASSWORD": "a long admin password"}
MESSAGES = [{"role": "user", "content": "Write a haiku about invoices"}]


async def login(client: httpx.AsyncClient, email: str, password: str) -> dict[str, str]:
    r = await client.post("/admin/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


async def fold(raw: RawWorld, *job_ids: uuid.UUID) -> None:
    async with raw.pool.connection() as conn:
        for job_id in job_ids:
            await usage.aggregate_job(conn, job_id)


async def test_a_job_completed_through_the_api_shows_its_margin_once_the_worker_ran(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, **ADMIN) as world:
        admin = await login(world.client, ADMIN["BOOTSTRAP_ADMIN_EMAIL"], ADMIN["BOOTSTRAP_ADMIN_PASSWORD"])
        team = await world.seed_team()
        created = await world.client.post("/api/jobs/create", json={"job_type": "poem"}, headers=team.headers)
        job_id = created.json()["job_id"]
        world.fake.push(Behavior(content="five seven five", prompt_tokens=20, completion_tokens=7))
        call = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team.headers
        )
        assert call.status_code == 200, call.text
        done = await world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
        )
        assert done.status_code == 200, done.text

        broker = install(stub_broker(), world.settings)
        worker = dramatiq.Worker(broker, worker_timeout=50)
        worker.start()
        try:
            actors.aggregate_job.send(job_id)
            await asyncio.to_thread(broker.join, actors.AGGREGATION_QUEUE, fail_fast=True)
        finally:
            worker.stop()

        cost = world.router.cost({"prompt_tokens": 20, "completion_tokens": 7})
        by_team = (await world.client.get("/admin/reports/margin?group_by=team", headers=admin)).json()
        row = next(r for r in by_team["rows"] if r["group"] == str(team.team_id))
        assert (row["jobs"], row["calls"], row["price_credits"]) == (1, 1, 2)
        assert (row["cost_micro_usd"], row["revenue_micro_usd"]) == (cost, 20_000)
        assert row["margin_micro_usd"] == 20_000 - cost
        assert row["margin_bps"] == reports_service.margin_bps(20_000 - cost, 20_000)

        listed = (await world.client.get(f"/admin/reports/jobs?team_id={team.team_id}", headers=admin)).json()
        assert [r["job_id"] for r in listed["rows"]] == [job_id]
        assert listed["rows"][0]["margin_micro_usd"] == 20_000 - cost

        detail = (await world.client.get(f"/admin/reports/jobs/{job_id}", headers=admin)).json()
        assert detail["margin_micro_usd"] == 20_000 - cost
        assert [
            (p["model_group"], p["price_credits"], p["cost_micro_usd"]) for p in detail["by_model_group"]
        ] == [(GROUP, 2, cost)]
        assert len(detail["job"]["calls"]) == 1

        month = datetime.datetime.now(datetime.UTC).strftime("%Y-%m")
        statement = (
            await world.client.get(
                f"/admin/reports/teams/{team.team_id}/statement?month={month}", headers=admin
            )
        ).json()
        assert statement["credits_used"] == 2
        assert [(r["group"], r["jobs"], r["revenue_micro_usd"]) for r in statement["by_job_type"]] == [
            ("poem", 1, 20_000)
        ]
        assert (statement["opening_balance"], statement["closing_balance"]) == (0, 98)
        kinds = {line["kind"]: line["amount"] for line in statement["ledger"]}
        assert kinds["allocation"] == 100
        assert kinds["capture"] == 2


async def test_finance_reads_reports_and_anonymous_callers_are_refused(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, **ADMIN) as world:
        admin = await login(world.client, ADMIN["BOOTSTRAP_ADMIN_EMAIL"], ADMIN["BOOTSTRAP_ADMIN_PASSWORD"])
        created = await world.client.post(
            "/admin/users",
            json={"email": "money@example.test", "password": "long enough password", "role": "finance"},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        finance = await login(world.client, "money@example.test", "long enough password")
        world.client.cookies.clear()  # bearer tokens only: no session cookie rides along
        for path in (
            "/admin/reports/margin?group_by=month",
            "/admin/reports/jobs",
            "/admin/reports/margin.csv",
        ):
            assert (await world.client.get(path, headers=finance)).status_code == 200, path
            anonymous = await world.client.get(path)
            assert anonymous.status_code == 401
            assert anonymous.headers["content-type"].startswith("application/problem+json")


BAD_QUERIES = [
    ("group_by=team&tz=Mars/Olympus", "tz"),
    ("group_by=team&from=2026-11-10&to=2026-11-01", "from must be before to"),
    ("group_by=team&from=2024-01-01&to=2026-01-01", "366"),
    ("group_by=planet", "group_by"),
    ("group_by=team&team_id=nope", "team_id"),
    ("group_by=team&sort=vibes", "sort"),
    ("group_by=team&from=2026-11-01T10:07:00Z", "quarter hour"),
    ("group_by=team&from=yesterday", "ISO date"),
]


async def test_bad_report_parameters_are_400_problems(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, **ADMIN) as world:
        admin = await login(world.client, ADMIN["BOOTSTRAP_ADMIN_EMAIL"], ADMIN["BOOTSTRAP_ADMIN_PASSWORD"])
        for query, detail in BAD_QUERIES:
            r = await world.client.get(f"/admin/reports/margin?{query}", headers=admin)
            assert r.status_code == 400, (query, r.text)
            assert r.json()["type"].endswith("/invalid-report-query"), query
            assert detail in r.json()["detail"], query
        for path in (
            "/admin/reports/jobs?status=lost",
            "/admin/reports/jobs?cursor=garbage",
            f"/admin/reports/teams/{uuid.uuid4()}/statement?month=2026-13",
        ):
            r = await world.client.get(path, headers=admin)
            assert r.status_code == 400, (path, r.text)
            assert r.json()["type"].endswith("/invalid-report-query"), path
        missing = await world.client.get(
            f"/admin/reports/teams/{uuid.uuid4()}/statement?month=2026-11", headers=admin
        )
        assert missing.status_code == 404


async def test_time_zones_move_jobs_between_local_days_exactly(
    database_url: str, redis_url: str, redis_prefix: str, raw: RawWorld
) -> None:
    team = await raw.team()
    late = await raw.job(team, price=3, finished="2026-11-01T23:30:00Z", calls=[Call("g-a", 10)])
    india_before = await raw.job(team, price=5, finished="2026-11-01T18:20:00Z", calls=[Call("g-a", 10)])
    india_after = await raw.job(team, price=7, finished="2026-11-01T18:40:00Z", calls=[Call("g-b", 10)])
    await fold(raw, late, india_before, india_after)

    async def days(client: httpx.AsyncClient, headers: dict[str, str], tz: str) -> dict[str, int]:
        r = await client.get(
            f"/admin/reports/margin?group_by=day&from=2026-11-01&to=2026-11-02&tz={tz}", headers=headers
        )
        assert r.status_code == 200, r.text
        return {row["group"]: row["price_credits"] for row in r.json()["rows"]}

    async with job_world(database_url, redis_url, redis_prefix, **ADMIN) as world:
        admin = await login(world.client, ADMIN["BOOTSTRAP_ADMIN_EMAIL"], ADMIN["BOOTSTRAP_ADMIN_PASSWORD"])
        assert await days(world.client, admin, "UTC") == {"2026-11-01": 15}
        # 23:30 UTC is 00:30 on Nov 2 in Paris; 18:20 / 18:40 UTC are 19:20 / 19:40 on Nov 1
        assert await days(world.client, admin, "Europe/Paris") == {"2026-11-01": 12, "2026-11-02": 3}
        # India is UTC+5:30: 18:20 UTC is 23:50 on Nov 1, 18:40 UTC is 00:10 on Nov 2
        assert await days(world.client, admin, "Asia/Kolkata") == {"2026-11-01": 5, "2026-11-02": 10}

        by_month = await world.client.get(
            "/admin/reports/margin?group_by=month&from=2026-10-01&to=2026-11-30&tz=America/New_York",
            headers=admin,
        )
        assert [(r["group"], r["jobs"]) for r in by_month.json()["rows"]] == [("2026-11", 3)]
        totals = by_month.json()["totals"]
        assert (totals["price_credits"], totals["revenue_micro_usd"], totals["cost_micro_usd"]) == (
            15,
            150_000,
            30,
        )


async def test_csv_exports_stream_every_row_with_exact_integer_money(
    database_url: str, redis_url: str, redis_prefix: str, raw: RawWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reports_service, "EXPORT_BATCH", 2)  # five jobs come in three batches
    team = await raw.team()
    jobs = [
        await raw.job(
            team, price=i + 1, finished=f"2026-11-0{i + 1}T12:00:00Z", calls=[Call("g-a", 1_000_003 * i)]
        )
        for i in range(5)
    ]
    await fold(raw, *jobs)
    async with job_world(database_url, redis_url, redis_prefix, **ADMIN) as world:
        admin = await login(world.client, ADMIN["BOOTSTRAP_ADMIN_EMAIL"], ADMIN["BOOTSTRAP_ADMIN_PASSWORD"])
        r = await world.client.get(
            f"/admin/reports/jobs.csv?from=2026-11-01&to=2026-11-30&team_id={team.team_id}", headers=admin
        )
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(r.text)))
        assert [row["job_id"] for row in rows] == [str(j) for j in reversed(jobs)]
        by_id: dict[str, Any] = {row["job_id"]: row for row in rows}
        third = by_id[str(jobs[2])]
        assert (third["price_credits"], third["cost_micro_usd"], third["revenue_micro_usd"]) == (
            "3",
            "2000006",
            "30000",
        )
        assert third["margin_micro_usd"] == "-1970006"
        assert third["margin_pct"] == "-6566.69"

        grouped = await world.client.get(
            "/admin/reports/margin.csv?group_by=day&from=2026-11-01&to=2026-11-30&sort=revenue", headers=admin
        )
        lines = list(csv.reader(io.StringIO(grouped.text)))
        assert lines[0][:3] == ["group", "jobs", "completed_jobs"]
        assert [line[0] for line in lines[1:]] == [f"2026-11-0{i}" for i in range(5, 0, -1)]
