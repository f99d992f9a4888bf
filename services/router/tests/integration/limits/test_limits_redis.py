"""Limits held in Redis: budgets at the edge under concurrency, RPM/TPM enforced once across two
replicas, settlement of reservations. Windows are 1 s so the tests stay fast."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from tests.router_support import a_deployment, a_key, assert_fails_closed_for_keys_open_for_deployments
from tollgate_common.redis import make_redis
from tollgate_router.errors import BudgetExceeded, KeyRateLimited
from tollgate_router.limits.service import Limiter, period_bounds


@pytest.fixture
async def redis_clients(redis_url: str) -> AsyncIterator[tuple[Redis, Redis]]:
    first, second = make_redis(redis_url), make_redis(redis_url)
    yield first, second
    await first.aclose()
    await second.aclose()


async def outcome(coro: Any) -> str:
    try:
        await coro
    except KeyRateLimited:
        return "limited"
    except BudgetExceeded:
        return "budget"
    return "ok"


async def test_concurrent_admits_at_the_budget_edge_overshoot_by_at_most_one_estimate(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    limiters = [Limiter(redis=r, prefix=redis_prefix, window_s=1.0) for r in redis_clients]
    key = a_key(budget_micro_usd=1_000, budget_period="day")
    estimate = 30
    results = await asyncio.gather(
        *(
            outcome(limiters[i % 2].admit(key, estimated_tokens=10, estimated_cost_micro_usd=estimate))
            for i in range(100)
        )
    )
    admitted = results.count("ok")
    assert results.count("budget") == 100 - admitted
    reserved = admitted * estimate
    assert 1_000 <= reserved <= 1_000 + estimate  # filled the budget, overshot by at most one estimate
    _, counted = await limiters[0].current_spend(key)
    assert counted == reserved


async def test_settle_replaces_the_estimate_by_the_actual_cost(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    limiter = Limiter(redis=redis_clients[0], prefix=redis_prefix, window_s=1.0)
    key = a_key(budget_micro_usd=100, budget_period="total")
    first = await limiter.admit(key, estimated_tokens=0, estimated_cost_micro_usd=90)
    second = await limiter.admit(key, estimated_tokens=0, estimated_cost_micro_usd=90)  # 90 < 100: admitted
    with pytest.raises(BudgetExceeded):  # 180 reserved
        await limiter.admit(key, estimated_tokens=0, estimated_cost_micro_usd=90)
    await limiter.settle(first, actual_tokens=0, actual_cost_micro_usd=10)  # refund 80
    await limiter.settle(first, actual_tokens=0, actual_cost_micro_usd=10)  # settling twice changes nothing
    await limiter.settle(second, actual_tokens=0, actual_cost_micro_usd=0)  # failed call: full refund
    assert (await limiter.current_spend(key))[1] == 10
    await limiter.admit(key, estimated_tokens=0, estimated_cost_micro_usd=5)
    assert (await limiter.current_spend(key))[1] == 15


async def test_a_budget_is_refused_once_spent_and_counts_actuals(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    limiter = Limiter(redis=redis_clients[0], prefix=redis_prefix, window_s=1.0)
    key = a_key(budget_micro_usd=100)
    reservation = await limiter.admit(key, estimated_tokens=0, estimated_cost_micro_usd=10)
    await limiter.settle(
        reservation, actual_tokens=0, actual_cost_micro_usd=150
    )  # top-up beyond the estimate
    assert (await limiter.current_spend(key))[1] == 150
    with pytest.raises(BudgetExceeded):
        await limiter.admit(key, estimated_tokens=0, estimated_cost_micro_usd=1)
    zero = a_key(budget_micro_usd=0)
    with pytest.raises(BudgetExceeded):
        await limiter.admit(zero, estimated_tokens=0, estimated_cost_micro_usd=0)


async def test_two_replicas_enforce_one_rpm_limit_exactly(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    replica_a = Limiter(redis=redis_clients[0], prefix=redis_prefix, window_s=1.0)
    replica_b = Limiter(redis=redis_clients[1], prefix=redis_prefix, window_s=1.0)
    key = a_key(rpm=10)
    results = await asyncio.gather(
        *(
            outcome(
                (replica_a if i % 2 else replica_b).admit(key, estimated_tokens=1, estimated_cost_micro_usd=0)
            )
            for i in range(40)
        )
    )
    assert results.count("ok") == 10
    assert results.count("limited") == 30
    with pytest.raises(KeyRateLimited) as refused:
        await replica_a.admit(key, estimated_tokens=1, estimated_cost_micro_usd=0)
    assert refused.value.headers["Retry-After"] == "1"
    await asyncio.sleep(0.25)  # a 1 s window refills 10 per second: two or three more by now
    refill = [
        await outcome(replica_b.admit(key, estimated_tokens=1, estimated_cost_micro_usd=0)) for _ in range(5)
    ]
    assert 2 <= refill.count("ok") <= 3


async def test_tpm_reserves_estimates_and_settles_to_actuals(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    clock = [1_000_000_000_000]  # a fake clock in microseconds, shared by both replicas
    replicas = [
        Limiter(redis=r, prefix=redis_prefix, window_s=60.0, clock_us=lambda: clock[0]) for r in redis_clients
    ]
    key = a_key(tpm=1_000)
    first = await replicas[0].admit(key, estimated_tokens=800, estimated_cost_micro_usd=0)
    with pytest.raises(KeyRateLimited) as refused:
        await replicas[1].admit(key, estimated_tokens=300, estimated_cost_micro_usd=0)
    assert int(refused.value.headers["Retry-After"]) == 6  # 100 tokens short at 1000/60 s per token
    await replicas[0].settle(first, actual_tokens=100, actual_cost_micro_usd=0)  # 700 tokens refunded
    await replicas[1].admit(key, estimated_tokens=300, estimated_cost_micro_usd=0)
    await replicas[1].admit(key, estimated_tokens=600, estimated_cost_micro_usd=0)
    with pytest.raises(KeyRateLimited):
        await replicas[0].admit(key, estimated_tokens=1, estimated_cost_micro_usd=0)
    clock[0] += 6_000_000  # six seconds later: 100 tokens refilled
    await replicas[0].admit(key, estimated_tokens=100, estimated_cost_micro_usd=0)
    # a request larger than the whole limit gets through only once the bucket is full again
    clock[0] += 60_000_000
    await replicas[0].admit(key, estimated_tokens=5_000, estimated_cost_micro_usd=0)
    with pytest.raises(KeyRateLimited):
        await replicas[1].admit(key, estimated_tokens=1, estimated_cost_micro_usd=0)


async def test_deployment_limits_are_shared_and_skip_when_full(
    redis_clients: tuple[Redis, Redis], redis_prefix: str
) -> None:
    replicas = [Limiter(redis=r, prefix=redis_prefix, window_s=1.0) for r in redis_clients]
    deployment = a_deployment(rpm=5)
    results = await asyncio.gather(
        *(replicas[i % 2].admit_deployment(deployment, estimated_tokens=10) for i in range(12))
    )
    assert results.count(True) == 5
    assert await replicas[0].admit_deployment(a_deployment(), estimated_tokens=10**9)  # no limits: always


async def test_a_key_without_limits_costs_no_redis_round_trip(redis_prefix: str) -> None:
    unreachable = make_redis("redis://127.0.0.1:1/0")
    limiter = Limiter(redis=unreachable, prefix=redis_prefix)
    reservation = await limiter.admit(a_key(), estimated_tokens=100, estimated_cost_micro_usd=100)
    await limiter.settle(reservation, actual_tokens=5, actual_cost_micro_usd=5)
    await unreachable.aclose()


def test_budget_periods_are_utc_calendar_buckets() -> None:
    now = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5)))  # 04:30 UTC the 26th
    assert period_bounds("day", now)[:2] == ("d20261126", dt.datetime(2026, 11, 26, tzinfo=dt.UTC))
    assert period_bounds("week", now)[:2] == ("w20261123", dt.datetime(2026, 11, 23, tzinfo=dt.UTC))
    assert period_bounds("month", now)[:2] == ("m202611", dt.datetime(2026, 11, 1, tzinfo=dt.UTC))
    assert period_bounds("total", now) == ("total", None, 0)


async def test_redis_down_fails_closed_for_keys_and_open_for_deployments(redis_prefix: str) -> None:
    unreachable = make_redis("redis://127.0.0.1:1/0")
    limiter = Limiter(redis=unreachable, prefix=redis_prefix)
    await assert_fails_closed_for_keys_open_for_deployments(limiter)
    await unreachable.aclose()
