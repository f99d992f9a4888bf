"""Upstream failures: retries with backoff, fallbacks, cooldowns shared by replicas, and the caller
charged only for the attempt that succeeded."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.fakes import Behavior, FakeOpenAI
from tollgate_router.chat.pricing import cost_micro_usd
from tollgate_router.providers.base import Usage

from .conftest import Router, StartRouter

PRICES = {
    "input_price_micro_usd_per_mtok": 1_000_000,
    "output_price_micro_usd_per_mtok": 2_000_000,
    "cached_input_price_micro_usd_per_mtok": 500_000,
    "cache_write_price_micro_usd_per_mtok": 0,
}
OK = Behavior(content="fine", prompt_tokens=100, completion_tokens=10)


class P:
    input, output, cached_input, cache_write = 1_000_000, 2_000_000, 500_000, 0


OK_COST = cost_micro_usd(Usage(prompt_tokens=100, completion_tokens=10), P())
MSG = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


async def one_deployment(router: Router, fake: FakeOpenAI, **fields: object) -> str:
    provider = await router.provider("openai", base_url=fake.base_url, api_key="sk")
    await router.deployment("m", provider, "gpt-4o-mini", **{**PRICES, **fields})
    return await router.key()


@pytest.mark.parametrize(
    "failure",
    [
        Behavior(status=500),
        Behavior(status=503),
        Behavior(status=429, retry_after=0),
        Behavior(drop_connection=True),
        Behavior(status=502),
    ],
    ids=["500", "503", "429", "dropped", "502"],
)
async def test_retryable_failures_are_retried_and_only_the_success_is_charged(
    router: Router, fake: FakeOpenAI, failure: Behavior
) -> None:
    key = await one_deployment(router, fake, max_retries=2)
    fake.push(failure)
    fake.push(OK)
    response = await router.chat(key, MSG)
    assert response.status_code == 200, response.text
    assert response.headers["x-tollgate-attempts"] == "2"
    assert response.headers["x-tollgate-cost-micro-usd"] == str(OK_COST)
    rows = await router.spend_rows()
    assert [(r["status"], r["cost_micro_usd"]) for r in rows] == [("success", OK_COST)]


async def test_timeout_is_retried(router: Router, fake: FakeOpenAI) -> None:
    key = await one_deployment(router, fake, max_retries=1, timeout_s=1)
    fake.push(Behavior(delay_s=1.5))
    fake.push(OK)
    response = await router.chat(key, MSG)
    assert response.status_code == 200
    assert response.headers["x-tollgate-attempts"] == "2"
    assert response.headers["x-tollgate-cost-micro-usd"] == str(OK_COST)


async def test_exhausted_retries_answer_in_openai_shape_and_charge_nothing(
    router: Router, fake: FakeOpenAI
) -> None:
    key = await one_deployment(router, fake, max_retries=2)
    fake.push(Behavior(status=500), times=3)
    response = await router.chat(key, MSG)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["type"] == "api_error"
    assert error["code"] == "upstream_error"
    assert "3 attempts" in error["message"]
    assert len(fake.calls) == 3
    rows = await router.spend_rows()
    assert [(r["status"], r["cost_micro_usd"], r["error_kind"]) for r in rows] == [("error", 0, "status_500")]


async def test_timeouts_exhausted_is_504(router: Router, fake: FakeOpenAI) -> None:
    key = await one_deployment(router, fake, max_retries=0, timeout_s=1)
    fake.push(Behavior(delay_s=1.5))
    response = await router.chat(key, MSG)
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"


async def test_the_router_wide_read_timeout_caps_a_deployments_longer_one(
    start_router: StartRouter, fake: FakeOpenAI
) -> None:
    async with start_router(ROUTER_UPSTREAM_READ_TIMEOUT_S="0.3") as router:
        key = await one_deployment(router, fake, max_retries=0, timeout_s=30)
        fake.push(Behavior(delay_s=1.5))
        started = time.monotonic()
        response = await router.chat(key, MSG)
        assert response.status_code == 504
        assert time.monotonic() - started < 1.2  # 0.3 s, not the deployment's 30 s


async def test_upstream_bad_request_is_not_retried_and_is_the_callers_400(
    router: Router, fake: FakeOpenAI
) -> None:
    key = await one_deployment(router, fake, max_retries=3)
    fake.push(Behavior(status=400, error_message="bad tool schema"))
    response = await router.chat(key, MSG)
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "bad tool schema"
    assert len(fake.calls) == 1


async def test_stream_dropped_before_the_first_chunk_is_retried(router: Router, fake: FakeOpenAI) -> None:
    key = await one_deployment(router, fake, max_retries=1)
    fake.push(Behavior(truncate_after_chunks=0))
    fake.push(OK)
    response = await router.chat(key, {**MSG, "stream": True, "stream_options": {"include_usage": True}})
    assert response.status_code == 200
    assert response.headers["x-tollgate-attempts"] == "2"
    assert f'"cost_micro_usd":{OK_COST}' in response.text
    assert response.text.endswith("data: [DONE]\n\n")


async def test_stream_killed_mid_way_ends_with_an_error_event_and_is_not_charged(
    router: Router, fake: FakeOpenAI
) -> None:
    key = await one_deployment(router, fake, max_retries=2)
    fake.push(Behavior(content="a long answer in pieces", n_chunks=6, truncate_after_chunks=3))
    response = await router.chat(key, {**MSG, "stream": True})
    assert response.status_code == 200
    events = [e for e in response.text.split("\n\n") if e.startswith("data: ")]
    assert '"code":"upstream_stream_interrupted"' in events[-1]
    assert "[DONE]" not in response.text
    assert len(fake.calls) == 1  # committed: not replayed (the caller already has part of it)
    rows = await router.spend_rows()
    assert [(r["status"], r["cost_micro_usd"]) for r in rows] == [("error", 0)]
    assert rows[0]["error_kind"].startswith("stream_")


async def test_fallback_model_serves_when_the_model_is_exhausted(router: Router) -> None:
    with FakeOpenAI() as bad, FakeOpenAI() as good:
        bad.default = Behavior(status=500)
        p_bad = await router.provider("openai", base_url=bad.base_url, api_key="sk")
        p_good = await router.provider("openai", base_url=good.base_url, api_key="sk")
        await router.deployment("m", p_bad, "gpt-4o", max_retries=1, **PRICES)
        await router.deployment("backup", p_good, "gpt-4o-mini", max_retries=0, **PRICES)
        await router.fallbacks("m", "backup")
        key = await router.key()
        good.push(OK)
        response = await router.chat(key, MSG)
    assert response.status_code == 200, response.text
    assert response.headers["x-tollgate-model"] == "backup"
    assert response.headers["x-tollgate-attempts"] == "3"
    assert response.headers["x-tollgate-cost-micro-usd"] == str(OK_COST)
    assert len(bad.calls) == 2


async def test_a_failing_deployment_cools_down_on_every_replica(start_router: StartRouter) -> None:
    env = {"ROUTER_COOLDOWN_AFTER_FAILURES": "1", "ROUTER_COOLDOWN_S": "30", "ROUTER_COOLDOWN_POLL_S": "0.05"}
    with FakeOpenAI() as bad, FakeOpenAI() as good:
        async with start_router(**env) as first, start_router(**env) as second:
            p_bad = await first.provider("openai", base_url=bad.base_url, api_key="sk")
            p_good = await first.provider("openai", base_url=good.base_url, api_key="sk")
            # all the traffic goes to `bad` while it is healthy (weight), none once it cools down
            await first.deployment("m", p_bad, "gpt-4o", weight=1000, max_retries=1, **PRICES)
            await first.deployment("m", p_good, "gpt-4o", weight=1, max_retries=1, **PRICES)

            async def both_visible() -> bool:
                return len(await second.app.state.catalog.deployments("m")) == 2

            await second.catalog_sees(both_visible)
            key = await first.key()
            bad.push(Behavior(status=500))
            response = await first.chat(key, MSG)  # bad fails once -> cooldown; good answers
            assert response.status_code == 200
            assert len(bad.calls) == 1
            await asyncio.sleep(0.3)  # > the poll interval of the other replica
            for _ in range(10):
                assert (await second.chat(key, MSG)).status_code == 200
            assert len(bad.calls) == 1  # the second replica never picked the cooling deployment
            assert len(good.calls) == 11


async def test_a_deployment_at_its_own_rpm_is_skipped_for_another(router: Router) -> None:
    with FakeOpenAI() as small, FakeOpenAI() as big:
        p_small = await router.provider("openai", base_url=small.base_url, api_key="sk")
        p_big = await router.provider("openai", base_url=big.base_url, api_key="sk")
        await router.deployment("m", p_small, "gpt-4o", rpm=2, weight=1000, **PRICES)
        await router.deployment("m", p_big, "gpt-4o", weight=1, **PRICES)
        key = await router.key()
        for _ in range(6):
            assert (await router.chat(key, MSG)).status_code == 200
    assert len(small.calls) == 2
    assert len(big.calls) == 4


async def test_metrics_count_requests_tokens_cost_and_retries(router: Router, fake: FakeOpenAI) -> None:
    key = await one_deployment(router, fake, max_retries=1)
    fake.push(Behavior(status=500))
    fake.push(OK)
    assert (await router.chat(key, MSG)).status_code == 200
    await router.app.state.chat.settle_pending()
    text = (await router.client.get("/metrics")).text
    assert 'tollgate_router_requests_total{endpoint="chat",model="m",status="200"} 1.0' in text
    assert 'tollgate_router_tokens_total{kind="prompt",model="m"} 100.0' in text
    assert f'tollgate_router_cost_micro_usd_total{{model="m"}} {float(OK_COST)}' in text
    assert 'tollgate_router_retries_total{reason="status_500"} 1.0' in text
    assert "tollgate_router_in_flight 0.0" in text
    assert "tollgate_router_overhead_seconds_count" in text
