"""Budget alerts through the real router: one alert per crossing of 80 % and 100 % of a team key's
budget, idempotent runs (service and actor), clearing when spend drops or the period rolls over, an
unreachable router that changes nothing, and ``GET /admin/alerts`` for operators only."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import dramatiq
import httpx
import pytest
from structlog.testing import capture_logs

from tollgate_api.errors import RouterUnavailable
from tollgate_api.routeradmin.client import RouterAdmin
from tollgate_api.settings import RouterClientSettings
from tollgate_api.upkeep import actors as upkeep_actors
from tollgate_api.upkeep import service as upkeep
from tollgate_api.worker.broker import install, stub_broker

from .conftest import Upkeep, World

ALERT_COLUMNS = "team_id, threshold_pct, budget_micro_usd, spend_micro_usd, budget_period, cleared_at IS NULL"


def alerts(world: Upkeep) -> list[tuple[Any, ...]]:
    return world.rows(f"SELECT {ALERT_COLUMNS} FROM api.budget_alerts ORDER BY id")


def open_alerts(world: Upkeep) -> list[tuple[Any, ...]]:
    return world.rows(
        "SELECT team_id, threshold_pct FROM api.budget_alerts WHERE cleared_at IS NULL ORDER BY threshold_pct"
    )


def router_admin(world: Upkeep) -> RouterAdmin:
    router: RouterAdmin = world.world.app.state["router_admin"]
    return router


def router_client(world: Upkeep) -> httpx.AsyncClient:
    real = world.world.real
    assert real is not None
    return httpx.AsyncClient(
        base_url=real.url, headers={"authorization": f"Bearer {real.admin_token}"}, timeout=10
    )


def key_of(world: Upkeep, team_id: uuid.UUID) -> str:
    return str(world.rows("SELECT router_key_id FROM api.teams WHERE id = %s", team_id)[0][0])


async def set_budget(world: Upkeep, team_id: uuid.UUID, budget: int | None, period: str = "month") -> None:
    async with router_client(world) as client:
        patched = await client.patch(
            f"/admin/keys/{key_of(world, team_id)}",
            json={"budget_micro_usd": budget, "budget_period": period},
        )
    assert patched.status_code == 200, patched.text


async def spend_of(world: Upkeep, team_id: uuid.UUID) -> int:
    async with router_client(world) as client:
        info = await client.get(f"/admin/keys/{key_of(world, team_id)}")
    assert info.status_code == 200, info.text
    spend: int = info.json()["period_spend_micro_usd"]
    return spend


async def team_with_spend(world: Upkeep, calls: int = 1) -> tuple[uuid.UUID, int]:
    """A team whose key has a (large) monthly budget and real spend counted against it by the router."""
    team = await world.world.seed_team(credits_amount=100)
    await set_budget(world, team.team_id, 1_000_000_000)
    await world.job_with_calls(team, calls=calls)
    spend = await spend_of(world, team.team_id)
    assert spend > 0
    return team.team_id, spend


async def test_one_alert_per_threshold_crossed_and_a_second_run_changes_nothing(upkeep_world: World) -> None:
    async with upkeep_world(real_router=True) as world:
        team_id, spend = await team_with_spend(world)
        quiet_team, _ = await team_with_spend(world)  # far under its budget
        await world.world.seed_team(credits_amount=100)  # no budget at all
        router = router_admin(world)
        warn_budget = spend * 100 // 85  # spend is 85 % of it

        await set_budget(world, team_id, warn_budget)
        with capture_logs() as logs:
            warned = await upkeep.raise_budget_alerts(world.pool, router)
        after_warning = alerts(world)
        again = await upkeep.raise_budget_alerts(world.pool, router)

        await set_budget(world, team_id, spend)  # exactly 100 %
        exceeded = await upkeep.raise_budget_alerts(world.pool, router)
        exceeded_again = await upkeep.raise_budget_alerts(world.pool, router)

    assert (warned.raised, warned.cleared) == (1, 0)
    assert after_warning == [(team_id, 80, warn_budget, spend, "month", True)]
    assert (again.raised, again.cleared) == (0, 0)
    assert (exceeded.raised, exceeded.cleared) == (1, 0)
    assert (exceeded_again.raised, exceeded_again.cleared) == (0, 0)
    assert alerts(world) == [*after_warning, (team_id, 100, spend, spend, "month", True)]
    assert quiet_team not in {row[0] for row in alerts(world)}
    lines = [entry for entry in logs if entry["event"] == "budget_alert"]
    assert [(e["team_id"], e["threshold_pct"], e["spend_micro_usd"]) for e in lines] == [
        (str(team_id), 80, spend)
    ]


async def test_alerts_clear_when_spend_drops_under_and_re_arm(upkeep_world: World) -> None:
    async with upkeep_world(real_router=True) as world:
        team_id, spend = await team_with_spend(world)
        router = router_admin(world)
        await set_budget(world, team_id, spend)
        await upkeep.raise_budget_alerts(world.pool, router)
        assert open_alerts(world) == [(team_id, 80), (team_id, 100)]

        await set_budget(world, team_id, spend * 100 // 90)  # 90 %: only the 100 % alert clears
        partly = await upkeep.raise_budget_alerts(world.pool, router)
        after_partly = open_alerts(world)
        await set_budget(world, team_id, spend * 10)  # 10 %: both clear
        cleared = await upkeep.raise_budget_alerts(world.pool, router)
        after_clear = open_alerts(world)
        await set_budget(world, team_id, spend)  # crossed again: raised again
        rearmed = await upkeep.raise_budget_alerts(world.pool, router)

    assert (partly.raised, partly.cleared) == (0, 1)
    assert after_partly == [(team_id, 80)]
    assert (cleared.raised, cleared.cleared) == (0, 1)
    assert after_clear == []
    assert (rearmed.raised, rearmed.cleared) == (2, 0)
    assert open_alerts(world) == [(team_id, 80), (team_id, 100)]
    assert len(alerts(world)) == 4


async def test_a_new_period_clears_the_old_alerts_and_a_removed_budget_clears_them_too(
    upkeep_world: World,
) -> None:
    async with upkeep_world(real_router=True) as world:
        team_id, spend = await team_with_spend(world)
        router = router_admin(world)
        await set_budget(world, team_id, spend * 100 // 85)
        await upkeep.raise_budget_alerts(world.pool, router)
        # The alert was raised in last month's period: this month's spend is a new crossing.
        world.execute("UPDATE api.budget_alerts SET period_start = period_start - interval '1 month'")
        rolled = await upkeep.raise_budget_alerts(world.pool, router)
        after_roll = world.rows(
            "SELECT threshold_pct, cleared_at IS NULL, period_start FROM api.budget_alerts ORDER BY id"
        )
        await set_budget(world, team_id, None)
        removed = await upkeep.raise_budget_alerts(world.pool, router)

    assert (rolled.raised, rolled.cleared) == (1, 1)
    assert [(pct, is_open) for pct, is_open, _ in after_roll] == [(80, False), (80, True)]
    assert after_roll[1][2] is not None
    assert after_roll[1][2].day == 1  # the current month's period
    assert (removed.raised, removed.cleared) == (0, 1)
    assert open_alerts(world) == []


async def test_an_unreachable_router_fails_the_run_and_writes_nothing(upkeep_world: World) -> None:
    async with upkeep_world(real_router=True) as world:
        team_id, spend = await team_with_spend(world)
        await set_budget(world, team_id, spend * 100 // 85)
        await upkeep.raise_budget_alerts(world.pool, router_admin(world))
        await set_budget(world, team_id, spend)  # 100 % now, and the 80 % alert is still open
        before = world.rows("SELECT id, threshold_pct, cleared_at FROM api.budget_alerts ORDER BY id")
        down = RouterAdmin.from_settings(
            RouterClientSettings(url="http://127.0.0.1:9", connect_timeout_s=0.5)
        )
        try:
            with pytest.raises(RouterUnavailable):
                await upkeep.raise_budget_alerts(world.pool, down)
        finally:
            await down.aclose()
        after_failure = world.rows("SELECT id, threshold_pct, cleared_at FROM api.budget_alerts ORDER BY id")
        retried = await upkeep.raise_budget_alerts(world.pool, router_admin(world))

    assert after_failure == before
    assert (retried.raised, retried.cleared) == (1, 0)
    assert open_alerts(world) == [(team_id, 80), (team_id, 100)]


async def test_the_actor_run_twice_leaves_the_state_of_one_run(upkeep_world: World) -> None:
    async with upkeep_world(real_router=True) as world:
        team_id, spend = await team_with_spend(world)
        await set_budget(world, team_id, spend)
        broker = stub_broker()
        install(broker, world.world.settings)
        worker = dramatiq.Worker(broker, worker_timeout=50)
        worker.start()

        def run_once() -> None:
            upkeep_actors.alert_budgets.send()
            broker.join(upkeep_actors.UPKEEP_QUEUE, fail_fast=True)

        try:
            await asyncio.to_thread(run_once)
            once = alerts(world)
            await asyncio.to_thread(run_once)
            twice = alerts(world)
        finally:
            worker.stop()

    assert once == [(team_id, 80, spend, spend, "month", True), (team_id, 100, spend, spend, "month", True)]
    assert twice == once


async def test_operators_list_low_credit_and_budget_alerts_and_teams_cannot(upkeep_world: World) -> None:
    async with upkeep_world(real_router=True) as world:
        team_id, spend = await team_with_spend(world)
        low = await world.world.seed_team(credits_amount=10)
        await set_budget(world, team_id, spend)
        await upkeep.raise_budget_alerts(world.pool, router_admin(world))
        await upkeep.raise_credit_alerts(world.pool, default_threshold=50)
        client = world.world.client

        listed = await client.get("/admin/alerts", headers=world.admin_headers)
        budget_only = await client.get(
            "/admin/alerts", params={"kind": "budget", "team_id": str(team_id)}, headers=world.admin_headers
        )
        open_credits = await client.get(
            "/admin/alerts", params={"kind": "credits.low", "open_only": "true"}, headers=world.admin_headers
        )
        bad_kind = await client.get("/admin/alerts", params={"kind": "spend"}, headers=world.admin_headers)
        anonymous = await client.get("/admin/alerts")
        as_team = await client.get("/admin/alerts", headers=low.headers)

    assert listed.status_code == 200, listed.text
    kinds = sorted((a["kind"], a["team_id"], a["threshold"]) for a in listed.json())
    assert (("credits.low", str(low.team_id), 50)) in kinds
    assert [k for k in kinds if k[0] == "budget"] == [
        ("budget", str(team_id), 80),
        ("budget", str(team_id), 100),
    ]
    budget_rows = budget_only.json()
    assert budget_only.status_code == 200, budget_only.text
    assert {a["kind"] for a in budget_rows} == {"budget"}
    assert budget_rows[0]["spend_micro_usd"] == spend
    assert budget_rows[0]["budget_micro_usd"] == spend
    assert budget_rows[0]["open"] is True
    assert budget_rows[0]["team_name"].startswith("team-")
    credit_rows = open_credits.json()
    assert {(a["kind"], a["available"] is not None, a["spend_micro_usd"]) for a in credit_rows} == {
        ("credits.low", True, None)
    }
    assert bad_kind.status_code == 400
    assert bad_kind.headers["content-type"].startswith("application/problem+json")
    assert anonymous.status_code == 401
    assert as_team.status_code in (401, 403)
