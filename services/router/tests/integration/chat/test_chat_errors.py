"""Every /v1 error in OpenAI's shape with the right status (and Retry-After where it applies)."""

from __future__ import annotations

import asyncio
from typing import Any

import openai
import pytest

from tests.fakes import FakeOpenAI

from .conftest import Router, StartRouter

MSG = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}


async def seed(router: Router, fake: FakeOpenAI, **key_fields: Any) -> str:
    provider = await router.provider("openai", base_url=fake.base_url, api_key="sk")
    await router.deployment(
        "m",
        provider,
        "gpt-4o-mini",
        input_price_micro_usd_per_mtok=1_000_000,
        output_price_micro_usd_per_mtok=1_000_000,
    )
    return await router.key(**key_fields)


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "type", "code", "param"}
    return dict(body["error"])


@pytest.mark.parametrize(
    ("authorization", "status"),
    [(None, 401), ("Bearer tgv_not-a-real-key", 401), ("Basic abc", 401), ("Bearer sk-other", 401)],
)
async def test_bad_credentials_are_401(
    router: Router, fake: FakeOpenAI, authorization: str | None, status: int
) -> None:
    await seed(router, fake)
    headers = {"authorization": authorization} if authorization else {}
    response = await router.client.post("/v1/chat/completions", json=MSG, headers=headers)
    assert response.status_code == status
    assert error_of(response)["type"] == "authentication_error"
    assert response.headers["x-tollgate-request-id"]
    assert fake.calls == []


async def test_blocked_key_is_403_and_unblocked_works_again(router: Router, fake: FakeOpenAI) -> None:
    key = await seed(router, fake)
    key_id = (await router.admin("GET", "/admin/keys"))[0]["id"]
    assert (await router.chat(key, MSG)).status_code == 200
    await router.admin("POST", f"/admin/keys/{key_id}/block")
    await asyncio.sleep(0.6)
    blocked = await router.chat(key, MSG)
    assert blocked.status_code == 403
    assert error_of(blocked)["code"] == "key_blocked"


async def test_unknown_model_is_404(router: Router, fake: FakeOpenAI) -> None:
    key = await seed(router, fake)
    response = await router.chat(key, {**MSG, "model": "nope"})
    assert response.status_code == 404
    assert error_of(response)["code"] == "model_not_found"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (b"{not json", None),
        (b"[]", None),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model"),
        (b'{"model": "m"}', "messages"),
        (b'{"model": "m", "messages": []}', "messages"),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream_options": {}}',
            "stream_options",
        ),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": -1}', "max_tokens"),
    ],
)
async def test_invalid_requests_are_400(
    router: Router, fake: FakeOpenAI, body: bytes, param: str | None
) -> None:
    key = await seed(router, fake)
    response = await router.client.post(
        "/v1/chat/completions",
        content=body,
        headers={"authorization": f"Bearer {key}", "content-type": "application/json"},
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param


async def test_oversize_body_is_413(start_router: StartRouter) -> None:
    with FakeOpenAI() as fake:
        async with start_router(ROUTER_MAX_BODY_BYTES="2048") as router:
            key = await seed(router, fake)
            big = {**MSG, "messages": [{"role": "user", "content": "x" * 5000}]}
            response = await router.chat(key, big)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"


async def test_wrong_method_is_405(router: Router) -> None:
    response = await router.client.get("/v1/chat/completions")
    assert response.status_code == 405


async def test_rate_limited_key_gets_429_with_retry_after(router: Router, fake: FakeOpenAI) -> None:
    key = await seed(router, fake, rpm=2)
    assert (await router.chat(key, MSG)).status_code == 200
    assert (await router.chat(key, MSG)).status_code == 200
    limited = await router.chat(key, MSG)
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    assert error_of(limited)["type"] == "rate_limit_error"
    assert len(fake.calls) == 2
    metrics = (await router.client.get("/metrics")).text
    assert 'tollgate_router_limit_rejections_total{reason="rpm"} 1.0' in metrics


async def test_exhausted_budget_is_402(router: Router, fake: FakeOpenAI) -> None:
    key = await seed(router, fake, budget_micro_usd=1)
    first = await router.chat(key, {**MSG, "max_tokens": 1000})  # admitted: nothing spent yet
    assert first.status_code == 200
    assert int(first.headers["x-tollgate-cost-micro-usd"]) > 1
    response = await router.chat(key, {**MSG, "max_tokens": 1000})
    assert response.status_code == 402
    assert error_of(response)["type"] == "insufficient_quota"


async def test_sdk_raises_its_own_error_classes(router: Router, fake: FakeOpenAI) -> None:
    await seed(router, fake)
    client = openai.AsyncOpenAI(
        api_key="tgv_wrong",
        base_url=str(router.client.base_url) + "/v1",
        http_client=router.client,
        max_retries=0,
    )
    with pytest.raises(openai.AuthenticationError):
        await client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
