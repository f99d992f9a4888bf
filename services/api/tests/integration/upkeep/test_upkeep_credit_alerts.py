"""Low-credit alerts: one alert and one ``credits.low`` event per crossing, re-armed on recovery."""

from __future__ import annotations

import uuid

from tests.jobs_support import ACTOR
from tollgate_api.credits import service as credits
from tollgate_api.upkeep import service as upkeep

from .conftest import Upkeep, World


def alerts(world: Upkeep, team_id: uuid.UUID) -> list[tuple[object, ...]]:
    return world.rows(
        "SELECT threshold, available, cleared_at IS NOT NULL FROM api.credit_alerts"
        " WHERE team_id = %s ORDER BY id",
        team_id,
    )


def events(world: Upkeep, team_id: uuid.UUID) -> list[tuple[object, ...]]:
    return world.rows(
        "SELECT payload->>'available', payload->>'threshold' FROM api.webhook_events"
        " WHERE team_id = %s AND type = 'credits.low' ORDER BY created_at",
        team_id,
    )


async def move(world: Upkeep, team_id: uuid.UUID, amount: int, kind: str = "adjustment") -> None:
    await credits.record_movement(
        world.pool,
        ACTOR,
        team_id=team_id,
        amount=amount,
        kind=kind,  # type: ignore[arg-type]
        reason="test",
        idempotency_key=f"move-{uuid.uuid4()}",
    )


async def test_one_alert_per_crossing_and_running_twice_changes_nothing(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        low = await world.world.seed_team(credits_amount=40)
        fine = await world.world.seed_team(credits_amount=500)

        first = await upkeep.raise_credit_alerts(world.pool, default_threshold=100)
        state = (alerts(world, low.team_id), events(world, low.team_id))
        second = await upkeep.raise_credit_alerts(world.pool, default_threshold=100)

        assert (first.raised, second.raised, second.cleared) == (1, 0, 0)
        assert state == ([(100, 40, False)], [("40", "100")])
        assert (alerts(world, low.team_id), events(world, low.team_id)) == state
        assert alerts(world, fine.team_id) == []


async def test_recovery_clears_the_alert_and_the_next_crossing_alerts_again(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team(credits_amount=40)
        await upkeep.raise_credit_alerts(world.pool, default_threshold=100)

        await move(world, team.team_id, 200, kind="allocation")  # 240: back above
        recovered = await upkeep.raise_credit_alerts(world.pool, default_threshold=100)
        await move(world, team.team_id, -190)  # 50: below again
        crossed = await upkeep.raise_credit_alerts(world.pool, default_threshold=100)

        assert (recovered.cleared, recovered.raised, crossed.raised) == (1, 0, 1)
        assert alerts(world, team.team_id) == [(100, 40, True), (100, 50, False)]
        assert events(world, team.team_id) == [("40", "100"), ("50", "100")]


async def test_a_team_threshold_in_metadata_overrides_the_default(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team(credits_amount=400)
        world.execute(
            "UPDATE api.teams SET metadata = '{\"low_credit_threshold\": 500}'::jsonb WHERE id = %s",
            team.team_id,
        )
        result = await upkeep.raise_credit_alerts(world.pool, default_threshold=100)
        assert result.raised == 1
        assert alerts(world, team.team_id) == [(500, 400, False)]
