"""Job lifecycle against real Postgres: holds at create, one settlement at complete, expiry."""

from __future__ import annotations

import asyncio
import datetime
import uuid

import pytest

from tests.jobs_support import job_world
from tollgate_api.credits import service as credits
from tollgate_api.errors import IdempotencyConflict, InsufficientCredits, JobAlreadyFinished, JobNotFound
from tollgate_api.jobs import service
from tollgate_api.jobs.schemas import CreateJobRequest
from tollgate_api.plans.schemas import PlanIn


async def test_create_holds_the_plan_price_and_complete_captures_it(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        job = await service.create_job(world.ctx, team.principal, CreateJobRequest(job_type="summary"))
        held = await credits.balance(world.pool, team.team_id)
        assert (held.balance, held.held, held.available) == (10, 2, 8)
        assert job.status == "pending"

        result = await service.complete_job(world.ctx, team.principal, job.id, status="COMPLETED")

        after = await credits.balance(world.pool, team.team_id)
        assert (after.balance, after.held, after.available) == (8, 0, 8)
        assert result.status == "completed"
        assert result.costs.credit_applied == 2
        assert result.costs.credits_remaining == 8
        assert world.enqueued.job_ids == [job.id]
        assert (await credits.verify_team(world.pool, team.team_id)).ok


async def test_repeat_complete_returns_first_result_and_other_outcome_is_refused(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team()
        job = await service.create_job(world.ctx, team.principal, CreateJobRequest())
        first = await service.complete_job(world.ctx, team.principal, job.id, status="completed")
        again = await service.complete_job(world.ctx, team.principal, job.id, status="completed")
        assert again == first
        with pytest.raises(JobAlreadyFinished):
            await service.complete_job(world.ctx, team.principal, job.id, status="failed")


async def test_hundred_concurrent_completes_charge_once(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        job = await service.create_job(world.ctx, team.principal, CreateJobRequest())

        results = await asyncio.gather(
            *(service.complete_job(world.ctx, team.principal, job.id, status="completed") for _ in range(100))
        )

        assert {r.costs.credit_applied for r in results} == {2}
        assert len({r.completed_at for r in results}) == 1
        bal = await credits.balance(world.pool, team.team_id)
        assert (bal.balance, bal.held) == (8, 0)
        assert (await credits.verify_team(world.pool, team.team_id)).ok


async def test_fifty_concurrent_creates_with_credits_for_ten_admit_exactly_ten(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=20)  # 2 credits per job

        async def attempt() -> bool:
            try:
                await service.create_job(world.ctx, team.principal, CreateJobRequest())
            except InsufficientCredits:
                return False
            return True

        outcomes = await asyncio.gather(*(attempt() for _ in range(50)))

        assert sum(outcomes) == 10
        bal = await credits.balance(world.pool, team.team_id)
        assert (bal.balance, bal.held, bal.available) == (20, 20, 0)
        assert (await credits.verify_team(world.pool, team.team_id)).ok


async def test_idempotency_key_returns_the_same_job_and_holds_once(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        req = CreateJobRequest(idempotency_key="order-42")
        jobs = await asyncio.gather(*(service.create_job(world.ctx, team.principal, req) for _ in range(5)))
        assert len({j.id for j in jobs}) == 1
        assert (await credits.balance(world.pool, team.team_id)).held == 2
        with pytest.raises(IdempotencyConflict):
            await service.create_job(
                world.ctx, team.principal, CreateJobRequest(idempotency_key="order-42", job_type="other")
            )


async def test_another_teams_job_is_not_found(database_url: str, redis_url: str, redis_prefix: str) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        owner = await world.seed_team()
        other = await world.seed_team()
        job = await service.create_job(world.ctx, owner.principal, CreateJobRequest())
        with pytest.raises(JobNotFound):
            await service.get_job(world.ctx, other.principal, job.id)
        with pytest.raises(JobNotFound):
            await service.complete_job(world.ctx, other.principal, job.id, status="completed")
        with pytest.raises(JobNotFound):
            await service.get_job(world.ctx, owner.principal, uuid.uuid4())


async def test_failed_job_with_policy_none_is_free_whatever_the_plan_price(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        job = await service.create_job(world.ctx, team.principal, CreateJobRequest())
        result = await service.complete_job(
            world.ctx, team.principal, job.id, status="failed", error_message="x"
        )
        assert result.costs.credit_applied == 0
        bal = await credits.balance(world.pool, team.team_id)
        assert (bal.balance, bal.held) == (10, 0)


async def test_failed_job_with_policy_full_is_charged_like_a_completed_one(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    plan = PlanIn(
        name="full", kind="per_job", usd_micro_per_credit=10_000, credits_per_job=3, failed_job_policy="full"
    )
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10, plan=plan)
        job = await service.create_job(world.ctx, team.principal, CreateJobRequest())
        result = await service.complete_job(world.ctx, team.principal, job.id, status="failed")
        assert result.costs.credit_applied == 3


async def test_expire_due_jobs_releases_holds_of_jobs_past_their_ttl(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=10)
        old = await service.create_job(world.ctx, team.principal, CreateJobRequest())
        fresh = await service.create_job(world.ctx, team.principal, CreateJobRequest())
        assert (await credits.balance(world.pool, team.team_id)).held == 4
        now = old.expires_at + datetime.timedelta(seconds=1)
        # fresh was created after old, so only old is due at old's expiry (+1 s) when TTLs are equal...
        expired = await service.expire_due_jobs(
            world.pool, fresh.expires_at - datetime.timedelta(microseconds=1)
        )
        assert expired == 1
        assert (await service.get_job(world.ctx, team.principal, old.id)).status == "expired"
        assert (await service.get_job(world.ctx, team.principal, fresh.id)).status == "pending"
        bal = await credits.balance(world.pool, team.team_id)
        assert (bal.balance, bal.held) == (10, 2)
        assert await service.expire_due_jobs(world.pool, now + datetime.timedelta(hours=2)) == 1
        assert await service.expire_due_jobs(world.pool, now + datetime.timedelta(hours=2)) == 0
        assert (await credits.verify_team(world.pool, team.team_id)).ok


async def test_expired_job_is_charged_its_provider_cost_under_that_policy(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    plan = PlanIn(
        name="usd",
        kind="consumption_usd",
        usd_micro_per_credit=10,
        credits_per_usd=100_000,
        min_credits_per_job=1,
        default_hold_credits=50,
        max_hold_credits=50,
        failed_job_policy="provider_cost",
    )
    async with job_world(database_url, redis_url, redis_prefix) as world:
        team = await world.seed_team(credits_amount=100, plan=plan)
        job = await service.create_job(world.ctx, team.principal, CreateJobRequest())
        async with world.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO api.llm_calls (id, job_id, team_id, model_group, status, cost_micro_usd)"
                " VALUES (%s, %s, %s, 'g', 'succeeded', 95)",
                (uuid.uuid4(), job.id, team.team_id),
            )
        assert await service.expire_due_jobs(world.pool, job.expires_at) == 1
        expired = await service.get_job(world.ctx, team.principal, job.id)
        assert expired.status == "expired"
        assert expired.credit_applied == 10  # ceil(95 micro-USD / 10 micro-USD per credit)
        bal = await credits.balance(world.pool, team.team_id)
        assert (bal.balance, bal.held) == (90, 0)
        assert (await credits.verify_team(world.pool, team.team_id)).ok
