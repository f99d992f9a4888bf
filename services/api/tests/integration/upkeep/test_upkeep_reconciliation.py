"""Reconciliation through the real router: zero drift after real calls, a planted drift reported to the
micro-dollar, one row per (key, day) that a re-run replaces, and the admin endpoints."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest

from tollgate_api.errors import RouterUnavailable
from tollgate_api.routeradmin.client import RouterAdmin
from tollgate_api.settings import RouterClientSettings
from tollgate_api.upkeep import service as upkeep

from .conftest import Upkeep, World

DRIFT_COLUMNS = (
    "team_id, day, router_key_id, router_requests, router_cost_micro_usd, api_calls, api_cost_micro_usd,"
    " drift_micro_usd"
)


def drift_rows(world: Upkeep) -> list[tuple[object, ...]]:
    return world.rows(f"SELECT {DRIFT_COLUMNS} FROM api.reconciliation_drift ORDER BY team_id, day")


def router_key(world: Upkeep, team_id: uuid.UUID) -> str:
    return str(world.rows("SELECT router_key_id FROM api.teams WHERE id = %s", team_id)[0][0])


async def wait_for_router_spend(world: Upkeep, expected_requests: int) -> None:
    """The router writes its spend log in batches (every 250 ms): wait until it holds every call."""
    for _ in range(100):
        rows = world.rows("SELECT count(*) FROM router.spend_log")
        if rows[0][0] >= expected_requests:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the router's spend log never caught up")


async def test_zero_drift_after_real_calls_and_a_planted_drift_is_reported_exactly(
    upkeep_world: World,
) -> None:
    async with upkeep_world(real_router=True) as world:
        a = await world.world.seed_team(credits_amount=100)
        b = await world.world.seed_team(credits_amount=100)
        await world.job_with_calls(a, calls=3)
        await world.job_with_calls(b, calls=1)
        await wait_for_router_spend(world, 4)
        router: RouterAdmin = world.world.app.state["router_admin"]
        today = datetime.datetime.now(datetime.UTC).date()

        clean = await upkeep.reconcile(world.pool, router, from_day=today, to_day=today, trigger="manual")
        rows = drift_rows(world)
        again = await upkeep.reconcile(world.pool, router, from_day=today, to_day=today, trigger="manual")

        assert (clean.status, clean.keys_checked, clean.drifted, clean.total_abs_drift_micro_usd) == (
            "succeeded",
            2,
            0,
            0,
        )
        assert again.drifted == 0
        assert drift_rows(world) == rows  # a re-run replaces, never adds
        by_team = {r[0]: r for r in rows}
        assert set(by_team) == {a.team_id, b.team_id}
        for team, calls in ((a, 3), (b, 1)):
            _, day, key, requests, router_cost, api_calls, api_cost, drift = by_team[team.team_id]
            assert (day, key, requests, api_calls, drift) == (
                today,
                router_key(world, team.team_id),
                calls,
                calls,
                0,
            )
            assert router_cost == api_cost
            assert isinstance(api_cost, int)
            assert api_cost > 0

        # Planted: a call the router never saw (api side) and a spend row the api never recorded.
        job_id = world.rows("SELECT id FROM api.jobs WHERE team_id = %s LIMIT 1", a.team_id)[0][0]
        world.execute(
            "INSERT INTO api.llm_calls (id, job_id, team_id, model_group, status, cost_micro_usd)"
            " VALUES (%s, %s, %s, 'chat-fast', 'succeeded', 1234)",
            uuid.uuid4(),
            job_id,
            a.team_id,
        )
        world.execute(
            "INSERT INTO router.spend_log"
            " (request_id, key_id, owner_ref, model, cost_micro_usd, status, created_at)"
            " VALUES ('planted', %s, %s, 'm', 777, 'succeeded', now())",
            uuid.UUID(router_key(world, b.team_id)),
            f"team:{b.team_id}",
        )
        planted = await upkeep.reconcile(world.pool, router, from_day=today, to_day=today, trigger="manual")
        drift = {r[0]: r[-1] for r in drift_rows(world)}

        assert (planted.drifted, planted.total_abs_drift_micro_usd) == (2, 1234 + 777)
        assert drift == {a.team_id: -1234, b.team_id: 777}


async def test_admin_can_run_and_list_runs_and_drift_and_anonymous_cannot(upkeep_world: World) -> None:
    async with upkeep_world(real_router=True) as world:
        team = await world.world.seed_team(credits_amount=100)
        await world.job_with_calls(team, calls=2)
        await wait_for_router_spend(world, 2)
        client, headers = world.world.client, world.admin_headers

        run = await client.post("/admin/reconciliation/runs", json={}, headers=headers)
        runs = await client.get("/admin/reconciliation/runs", headers=headers)
        one = await client.get(f"/admin/reconciliation/runs/{run.json()['run']['id']}", headers=headers)
        missing = await client.get("/admin/reconciliation/runs/999999", headers=headers)
        drift = await client.get("/admin/reconciliation/drift", headers=headers)
        only_drift = await client.get(
            "/admin/reconciliation/drift", params={"only_drift": "true"}, headers=headers
        )
        backwards = await client.post(
            "/admin/reconciliation/runs",
            json={"from_day": "2026-02-02", "to_day": "2026-02-01"},
            headers=headers,
        )
        anonymous = await client.get("/admin/reconciliation/runs")

        assert run.status_code == 200, run.text
        report = run.json()
        assert (report["run"]["status"], report["run"]["drifted"], report["run"]["trigger"]) == (
            "succeeded",
            0,
            "manual",
        )
        assert [(d["team_id"], d["drift_micro_usd"], d["api_calls"]) for d in report["drift"]] == [
            (str(team.team_id), 0, 2)
        ]
        assert [r["id"] for r in runs.json()] == [report["run"]["id"]]
        assert one.json() == report["run"]
        assert (missing.status_code, missing.json()["type"].rsplit("/", 1)[-1]) == (
            404,
            "reconciliation-run-not-found",
        )
        assert len(drift.json()) == 1
        assert only_drift.json() == []
        assert backwards.status_code == 400
        assert anonymous.status_code == 401


async def test_a_run_that_cannot_reach_the_router_is_recorded_as_failed(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        router = RouterAdmin.from_settings(
            RouterClientSettings(url="http://127.0.0.1:9", connect_timeout_s=0.5)
        )
        today = datetime.datetime.now(datetime.UTC).date()
        try:
            with pytest.raises(RouterUnavailable):
                await upkeep.reconcile(world.pool, router, from_day=today, to_day=today, trigger="schedule")
        finally:
            await router.aclose()
        assert world.rows("SELECT trigger, status, error FROM api.reconciliation_runs") == [
            ("schedule", "failed", "RouterUnavailable")
        ]
        assert drift_rows(world) == []
