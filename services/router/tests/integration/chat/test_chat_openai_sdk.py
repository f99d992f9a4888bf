"""The official openai SDK works unchanged against the router: chat, stream, tools, embeddings, models."""

from __future__ import annotations

import json

import openai
import pytest

from tests.fakes import Behavior, FakeOpenAI, ToolCall
from tollgate_router.chat.pricing import cost_micro_usd
from tollgate_router.providers.base import Usage

from .conftest import Router

PRICES = {
    "input_price_micro_usd_per_mtok": 150_000,
    "output_price_micro_usd_per_mtok": 600_000,
    "cached_input_price_micro_usd_per_mtok": 75_000,
    "cache_write_price_micro_usd_per_mtok": 0,
}


class P:
    input, output, cached_input, cache_write = 150_000, 600_000, 75_000, 0


def sdk(router: Router, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=key, base_url=str(router.client.base_url) + "/v1", http_client=router.client, max_retries=0
    )


@pytest.fixture
def fake() -> FakeOpenAI:
    with FakeOpenAI(api_key="sk-upstream") as server:
        yield server


async def seed(router: Router, fake: FakeOpenAI) -> str:
    provider = await router.provider("openai", base_url=fake.base_url, api_key="sk-upstream")
    await router.deployment("gpt-mini", provider, "gpt-4o-mini", **PRICES)
    await router.deployment("embed", provider, "text-embedding-3-small", **PRICES)
    return await router.key("team-a")


async def test_sdk_chat_completion_is_priced_exactly_and_headers_say_so(
    router: Router, fake: FakeOpenAI
) -> None:
    key = await seed(router, fake)
    fake.push(Behavior(content="Hello there", prompt_tokens=1000, completion_tokens=50, cached_tokens=400))
    raw = await sdk(router, key).chat.completions.with_raw_response.create(
        model="gpt-mini", messages=[{"role": "user", "content": "hi"}], temperature=0.1, max_tokens=64
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "Hello there"
    assert completion.usage is not None
    assert completion.usage.prompt_tokens == 1000
    expected = cost_micro_usd(Usage(prompt_tokens=1000, completion_tokens=50, cached_tokens=400), P())
    assert expected == (600 * 150_000 + 400 * 75_000 + 50 * 600_000 + 500_000) // 1_000_000
    assert raw.headers["x-tollgate-cost-micro-usd"] == str(expected)
    assert raw.headers["x-tollgate-model"] == "gpt-mini"
    assert raw.headers["x-tollgate-attempts"] == "1"
    assert raw.headers["x-tollgate-cache"] == "bypass"
    assert raw.headers["x-tollgate-deployment"]
    assert raw.headers["x-tollgate-request-id"] == raw.headers["x-request-id"]
    upstream = fake.calls[-1]
    assert upstream.json["model"] == "gpt-4o-mini"
    assert upstream.json["temperature"] == 0.1
    assert upstream.headers["authorization"] == "Bearer sk-upstream"
    rows = await router.spend_rows()
    assert [(r["cost_micro_usd"], r["status"], r["prompt_tokens"], r["cached_tokens"]) for r in rows] == [
        (expected, "success", 1000, 400)
    ]


async def test_sdk_stream_with_usage_carries_the_same_cost_as_non_streamed(
    router: Router, fake: FakeOpenAI
) -> None:
    key = await seed(router, fake)
    client = sdk(router, key)
    behavior = Behavior(
        content="streamed words here", prompt_tokens=777, completion_tokens=33, cached_tokens=100
    )
    fake.push(behavior)
    plain = await client.chat.completions.with_raw_response.create(
        model="gpt-mini", messages=[{"role": "user", "content": "hi"}]
    )
    fake.push(behavior)
    stream = await client.chat.completions.create(
        model="gpt-mini",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage = "", None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
    assert text == "streamed words here"
    assert usage is not None
    assert usage.prompt_tokens == 777
    assert usage.model_extra is not None
    assert str(usage.model_extra["cost_micro_usd"]) == plain.headers["x-tollgate-cost-micro-usd"]
    assert fake.calls[-1].json["stream_options"] == {"include_usage": True}


async def test_stream_without_include_usage_still_priced_and_reports_cost_in_a_comment(
    router: Router, fake: FakeOpenAI
) -> None:
    key = await seed(router, fake)
    fake.push(Behavior(content="abc", prompt_tokens=100, completion_tokens=10))
    response = await router.chat(
        key, {"model": "gpt-mini", "messages": [{"role": "user", "content": "x"}], "stream": True}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = response.text.split("\n\n")
    data = [f for f in frames if f.startswith("data: ")]
    assert data[-1] == "data: [DONE]"
    assert not any('"choices":[]' in f for f in data)  # the usage chunk the caller didn't ask for is dropped
    expected = cost_micro_usd(Usage(prompt_tokens=100, completion_tokens=10), P())
    assert f": x-tollgate-cost-micro-usd={expected}" in frames
    assert fake.calls[-1].json["stream_options"] == {"include_usage": True}  # we always ask upstream
    rows = await router.spend_rows()
    assert rows[-1]["cost_micro_usd"] == expected
    assert rows[-1]["status"] == "success"


async def test_sdk_tools_round_trip(router: Router, fake: FakeOpenAI) -> None:
    key = await seed(router, fake)
    fake.push(Behavior(tool_call=ToolCall(name="get_weather", arguments={"city": "Paris"})))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    completion = await sdk(router, key).chat.completions.create(
        model="gpt-mini",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,  # type: ignore[arg-type]
        tool_choice="auto",
        response_format={"type": "json_object"},
        stop=["END"],
    )
    call = completion.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Paris"}  # type: ignore[union-attr]
    assert completion.choices[0].finish_reason == "tool_calls"
    sent = fake.calls[-1].json
    assert sent["tools"] == tools
    assert sent["tool_choice"] == "auto"
    assert sent["response_format"] == {"type": "json_object"}


async def test_sdk_embeddings_and_models(router: Router, fake: FakeOpenAI) -> None:
    key = await seed(router, fake)
    client = sdk(router, key)
    result = await client.embeddings.with_raw_response.create(model="embed", input=["one", "two"])
    parsed = result.parse()
    assert len(parsed.data) == 2
    assert int(result.headers["x-tollgate-cost-micro-usd"]) == cost_micro_usd(
        Usage(prompt_tokens=parsed.usage.prompt_tokens), P()
    )
    models = await client.models.list()
    assert sorted(m.id for m in models.data) == ["embed", "gpt-mini"]


async def test_models_lists_only_what_the_key_may_use(router: Router, fake: FakeOpenAI) -> None:
    await seed(router, fake)
    limited = await router.key("team-b", allowed_models=["embed"])
    models = await sdk(router, limited).models.list()
    assert [m.id for m in models.data] == ["embed"]
    with pytest.raises(openai.PermissionDeniedError) as denied:
        await sdk(router, limited).chat.completions.create(
            model="gpt-mini", messages=[{"role": "user", "content": "x"}]
        )
    assert denied.value.code == "model_not_allowed"
