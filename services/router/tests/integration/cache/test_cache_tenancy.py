"""The response cache is scoped by owner and ignores fields that cannot change the answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from tollgate_common.redis import make_redis
from tollgate_router.cache.service import ResponseCache

REQUEST = {"model": "chat", "messages": [{"role": "user", "content": "hello"}], "temperature": 0}


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = make_redis(redis_url)
    yield client
    await client.aclose()


async def test_two_owners_never_share_an_entry(redis: Redis, redis_prefix: str) -> None:
    cache = ResponseCache(redis=redis, prefix=redis_prefix)
    await cache.put(owner_ref="team-a", model="chat", request=REQUEST, body=b"answer-a", ttl_s=60)
    assert await cache.get(owner_ref="team-b", model="chat", request=REQUEST) is None
    await cache.put(owner_ref="team-b", model="chat", request=REQUEST, body=b"answer-b", ttl_s=60)
    assert await cache.get(owner_ref="team-a", model="chat", request=REQUEST) == b"answer-a"
    assert await cache.get(owner_ref="team-b", model="chat", request=REQUEST) == b"answer-b"
    # owner and model are hashed as separate JSON values: no concatenation can collide
    assert cache.key(owner_ref="ab", model="c", request=REQUEST) != cache.key(
        owner_ref="a", model="bc", request=REQUEST
    )
    assert cache.key(owner_ref="a", model="chat", request=REQUEST).startswith(redis_prefix)


async def test_the_key_ignores_transport_fields_but_not_the_prompt(redis: Redis, redis_prefix: str) -> None:
    cache = ResponseCache(redis=redis, prefix=redis_prefix)
    base = cache.key(owner_ref="a", model="chat", request=REQUEST)
    reordered = dict(reversed(list(REQUEST.items())))
    streamed = {**REQUEST, "stream": True, "stream_options": {"include_usage": True}, "user": "u-1"}
    assert cache.key(owner_ref="a", model="chat", request=reordered) == base
    assert cache.key(owner_ref="a", model="chat", request=streamed) == base
    assert cache.key(owner_ref="a", model="chat", request={**REQUEST, "temperature": 1}) != base
    other_prompt = {**REQUEST, "messages": [{"role": "user", "content": "hello!"}]}
    assert cache.key(owner_ref="a", model="chat", request=other_prompt) != base
    assert cache.key(owner_ref="a", model="other", request=REQUEST) != base


async def test_entries_expire_and_zero_ttl_stores_nothing(redis: Redis, redis_prefix: str) -> None:
    cache = ResponseCache(redis=redis, prefix=redis_prefix)
    await cache.put(owner_ref="a", model="chat", request=REQUEST, body=b"x", ttl_s=0)
    assert await cache.get(owner_ref="a", model="chat", request=REQUEST) is None
    await cache.put(owner_ref="a", model="chat", request=REQUEST, body=b"x", ttl_s=30)
    ttl = await redis.ttl(cache.key(owner_ref="a", model="chat", request=REQUEST))
    assert 0 < ttl <= 30


async def test_redis_down_is_a_miss_not_an_error(redis_prefix: str) -> None:
    down = make_redis("redis://127.0.0.1:1/0")
    cache = ResponseCache(redis=down, prefix=redis_prefix)
    await cache.put(owner_ref="a", model="chat", request=REQUEST, body=b"x", ttl_s=30)
    assert await cache.get(owner_ref="a", model="chat", request=REQUEST) is None
    await down.aclose()
