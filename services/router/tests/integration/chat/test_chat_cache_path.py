"""The data plane's use of the response cache: hits are free and say so, owners never share, opt-out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes import Behavior, FakeOpenAI

from .conftest import Router

MSG = {"model": "m", "messages": [{"role": "user", "content": "same prompt"}], "temperature": 0}


@pytest.fixture
def fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(
        default=Behavior(content="cached answer", prompt_tokens=50, completion_tokens=5)
    ) as server:
        yield server


async def seed(router: Router, fake: FakeOpenAI, cache_ttl_s: int | None = 60) -> None:
    provider = await router.provider("openai", base_url=fake.base_url, api_key="sk")
    await router.deployment(
        "m",
        provider,
        "gpt-4o-mini",
        cache_ttl_s=cache_ttl_s,
        input_price_micro_usd_per_mtok=1_000_000,
        output_price_micro_usd_per_mtok=1_000_000,
    )


async def test_second_identical_call_is_a_free_hit(router: Router, fake: FakeOpenAI) -> None:
    await seed(router, fake)
    key = await router.key("team-a")
    miss = await router.chat(key, MSG)
    hit = await router.chat(key, MSG)
    assert miss.headers["x-tollgate-cache"] == "miss"
    assert int(miss.headers["x-tollgate-cost-micro-usd"]) == 55
    assert hit.headers["x-tollgate-cache"] == "hit"
    assert hit.headers["x-tollgate-cost-micro-usd"] == "0"
    assert hit.headers["x-tollgate-attempts"] == "0"
    assert hit.json() == miss.json()
    assert len(fake.calls) == 1
    rows = await router.spend_rows()
    assert [(r["cache_hit"], r["cost_micro_usd"]) for r in rows] == [(False, 55), (True, 0)]


async def test_two_owners_never_share_an_entry(router: Router, fake: FakeOpenAI) -> None:
    await seed(router, fake)
    first = await router.chat(await router.key("team-a"), MSG)
    second = await router.chat(await router.key("team-b"), MSG)
    assert first.headers["x-tollgate-cache"] == second.headers["x-tollgate-cache"] == "miss"
    assert len(fake.calls) == 2


@pytest.mark.parametrize("how", ["header", "body"])
async def test_per_request_opt_out(router: Router, fake: FakeOpenAI, how: str) -> None:
    await seed(router, fake)
    key = await router.key()
    await router.chat(key, MSG)
    if how == "header":
        response = await router.chat(key, MSG, headers={"x-tollgate-cache": "no-store"})
    else:
        response = await router.chat(key, {**MSG, "cache": {"no-store": True}})
    assert response.headers["x-tollgate-cache"] == "bypass"
    assert len(fake.calls) == 2
    assert "cache" not in fake.calls[-1].json  # Tollgate's own field never goes upstream


async def test_deployments_without_ttl_bypass_the_cache(router: Router, fake: FakeOpenAI) -> None:
    await seed(router, fake, cache_ttl_s=None)
    key = await router.key()
    await router.chat(key, MSG)
    response = await router.chat(key, MSG)
    assert response.headers["x-tollgate-cache"] == "bypass"
    assert len(fake.calls) == 2
