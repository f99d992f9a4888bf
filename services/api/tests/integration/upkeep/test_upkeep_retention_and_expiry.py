"""Retention purge and job expiry: each forgets or expires exactly what is due, and a second run
changes nothing."""

from __future__ import annotations

import datetime
import json
import uuid

from tollgate_api.upkeep import service as upkeep

from .conftest import Upkeep, World

NOW = datetime.datetime.now(datetime.UTC)


def add_call(
    world: Upkeep, job_id: uuid.UUID, team_id: uuid.UUID, retain_until: datetime.datetime | None
) -> None:
    world.execute(
        "INSERT INTO api.llm_calls"
        " (id, job_id, team_id, model_group, status, prompt, response_text, retain_until)"
        " VALUES (%s, %s, %s, 'chat-fast', 'succeeded', %s::jsonb, 'the answer', %s)",
        uuid.uuid4(),
        job_id,
        team_id,
        json.dumps([{"role": "user", "content": "secret"}]),
        retain_until,
    )


def stored(world: Upkeep, team_id: uuid.UUID) -> list[tuple[object, ...]]:
    return world.rows(
        "SELECT prompt IS NOT NULL, response_text IS NOT NULL, retain_until FROM api.llm_calls"
        " WHERE team_id = %s ORDER BY retain_until NULLS FIRST, id",
        team_id,
    )


async def test_retention_purge_forgets_due_text_in_batches_and_keeps_the_rest(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team()
        job_id = await world.job_with_calls(team, calls=0, complete=False)
        keep_until = NOW + datetime.timedelta(days=3)
        for _ in range(5):
            add_call(world, job_id, team.team_id, NOW - datetime.timedelta(hours=1))
        add_call(world, job_id, team.team_id, keep_until)

        purged = await upkeep.purge_retention(world.pool, NOW, batch=2, max_batches=10)
        after_first = stored(world, team.team_id)
        again = await upkeep.purge_retention(world.pool, NOW, batch=2, max_batches=10)

        assert (purged, again) == (5, 0)
        assert after_first == [(False, False, None)] * 5 + [(True, True, keep_until)]
        assert stored(world, team.team_id) == after_first


async def test_expire_jobs_expires_only_jobs_past_their_ttl_and_releases_their_holds(
    upkeep_world: World,
) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team(credits_amount=100)
        due = await world.job_with_calls(team, calls=0, complete=False)
        fresh = await world.job_with_calls(team, calls=0, complete=False)
        world.execute("UPDATE api.jobs SET expires_at = now() - interval '1 minute' WHERE id = %s", due)
        enqueued: list[uuid.UUID] = []

        async def enqueue(job_id: uuid.UUID) -> None:
            enqueued.append(job_id)

        def state() -> list[tuple[object, ...]]:
            jobs = world.rows(
                "SELECT id, status::text FROM api.jobs WHERE team_id = %s ORDER BY id", team.team_id
            )
            ledger = world.rows("SELECT count(*) FROM api.ledger_entries WHERE team_id = %s", team.team_id)
            held = world.rows("SELECT held FROM api.team_balances WHERE team_id = %s", team.team_id)
            return [*jobs, *ledger, *held]

        first = await upkeep.expire_jobs(world.pool, datetime.datetime.now(datetime.UTC), enqueue=enqueue)
        after_first = state()
        second = await upkeep.expire_jobs(world.pool, datetime.datetime.now(datetime.UTC), enqueue=enqueue)

        assert (first, second) == (1, 0)
        assert enqueued == [due]
        statuses = dict(world.rows("SELECT id, status::text FROM api.jobs WHERE team_id = %s", team.team_id))
        assert statuses[due] == "expired"
        assert statuses[fresh] in ("pending", "in_progress")
        assert state() == after_first
