"""Batched settling leaves the budget and TPM counters exactly where one settle per call would."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from tests.router_support import a_key
from tollgate_router.chat.settling import SettleBatcher
from tollgate_router.keys.service import AuthedKey
from tollgate_router.limits.service import Limiter


def key(**fields: object) -> AuthedKey:
    return a_key(**{"owner_ref": "o", "tpm": 1_000_000, "budget_micro_usd": 1_000_000, **fields})


async def test_merged_settles_equal_individual_settles(redis_url: str, redis_prefix: str) -> None:
    redis = Redis.from_url(redis_url)
    try:
        limiter = Limiter(redis=redis, prefix=redis_prefix)
        batched, single = key(), key()
        actuals = [(120, 7), (80, 3), (300, 25), (10, 0)]
        batcher = SettleBatcher(limiter, window_s=60)  # only the explicit flush settles
        for tokens, cost in actuals:
            reservation = await limiter.admit(batched, estimated_tokens=500, estimated_cost_micro_usd=50)
            batcher.add(reservation, actual_tokens=tokens, actual_cost_micro_usd=cost)
            other = await limiter.admit(single, estimated_tokens=500, estimated_cost_micro_usd=50)
            await limiter.settle(other, actual_tokens=tokens, actual_cost_micro_usd=cost)
        assert (await limiter.current_spend(batched))[1] == 4 * 50  # reserved, not settled yet
        await batcher.flush()
        assert (await limiter.current_spend(batched))[1] == sum(c for _, c in actuals)
        assert (await limiter.current_spend(single))[1] == sum(c for _, c in actuals)
        await batcher.close()
    finally:
        await redis.aclose()


async def test_settles_are_flushed_by_the_window_without_anyone_asking(
    redis_url: str, redis_prefix: str
) -> None:
    redis = Redis.from_url(redis_url)
    try:
        limiter = Limiter(redis=redis, prefix=redis_prefix)
        k = key()
        batcher = SettleBatcher(limiter, window_s=0.01)
        reservation = await limiter.admit(k, estimated_tokens=100, estimated_cost_micro_usd=40)
        batcher.add(reservation, actual_tokens=10, actual_cost_micro_usd=4)
        for _ in range(100):
            if (await limiter.current_spend(k))[1] == 4:
                break
            await asyncio.sleep(0.01)
        assert (await limiter.current_spend(k))[1] == 4
        await batcher.close()
    finally:
        await redis.aclose()
