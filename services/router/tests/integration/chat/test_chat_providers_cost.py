"""Every provider adapter through the whole router: the same request streamed and non-streamed costs
exactly the same, cached and cache-write tokens included; Anthropic answers OpenAI-shaped requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.fakes import Behavior, FakeAnthropic, FakeOpenAI, ToolCall
from tollgate_router.chat.pricing import cost_micro_usd
from tollgate_router.providers.base import Usage

from .conftest import Router

PRICES = {
    "input_price_micro_usd_per_mtok": 3_000_000,
    "output_price_micro_usd_per_mtok": 15_000_000,
    "cached_input_price_micro_usd_per_mtok": 300_000,
    "cache_write_price_micro_usd_per_mtok": 3_750_000,
}


class P:
    input, output, cached_input, cache_write = 3_000_000, 15_000_000, 300_000, 3_750_000


USAGE = Behavior(content="a fairly long answer", prompt_tokens=2001, completion_tokens=77, cached_tokens=1200)


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def anthropic_fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="sk-ant") as server:
        yield server


def sdk(router: Router, key: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        api_key=key, base_url=str(router.client.base_url) + "/v1", http_client=router.client, max_retries=0
    )


async def stream_cost(client: openai.AsyncOpenAI, model: str) -> tuple[str, int, Any]:
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, cost, usage = "", -1, None
    async for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
        if chunk.usage is not None:
            usage = chunk.usage
            cost = int((chunk.usage.model_extra or {})["cost_micro_usd"])
    return text, cost, usage


async def json_cost(client: openai.AsyncOpenAI, model: str) -> tuple[str, int, Any]:
    raw = await client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": "hello"}]
    )
    completion = raw.parse()
    return (
        completion.choices[0].message.content or "",
        int(raw.headers["x-tollgate-cost-micro-usd"]),
        completion.usage,
    )


async def test_openai_streamed_cost_equals_non_streamed_cost_with_cached_tokens(
    router: Router, openai_fake: FakeOpenAI
) -> None:
    provider = await router.provider("openai", base_url=openai_fake.base_url, api_key="sk")
    await router.deployment("m", provider, "gpt-4o", **PRICES)
    client = sdk(router, await router.key())
    openai_fake.push(USAGE, times=2)
    plain = await json_cost(client, "m")
    streamed = await stream_cost(client, "m")
    expected = cost_micro_usd(Usage(prompt_tokens=2001, completion_tokens=77, cached_tokens=1200), P())
    assert plain[0] == streamed[0] == "a fairly long answer"
    assert plain[1] == streamed[1] == expected


async def test_azure_openai_uses_its_url_and_api_key_header(router: Router, openai_fake: FakeOpenAI) -> None:
    provider = await router.provider(
        "azure_openai", base_url=openai_fake.azure_endpoint, api_key="az-key", api_version="2024-10-21"
    )
    await router.deployment("m", provider, "my-gpt4o-deployment", **PRICES)
    client = sdk(router, await router.key())
    openai_fake.push(USAGE, times=2)
    plain = await json_cost(client, "m")
    streamed = await stream_cost(client, "m")
    assert plain[1] == streamed[1] > 0
    call = openai_fake.calls[0]
    assert call.path == "/openai/deployments/my-gpt4o-deployment/chat/completions"
    assert call.query == {"api-version": "2024-10-21"}
    assert call.headers["api-key"] == "az-key"


async def test_openai_compatible_without_a_key(router: Router, openai_fake: FakeOpenAI) -> None:
    provider = await router.provider(
        "openai_compatible", base_url=openai_fake.base_url, headers={"X-Title": "tg"}
    )
    await router.deployment("local", provider, "llama3", **PRICES)
    client = sdk(router, await router.key())
    openai_fake.push(USAGE)
    text, cost, _ = await json_cost(client, "local")
    assert text == "a fairly long answer"
    assert cost > 0
    assert "authorization" not in openai_fake.calls[0].headers
    assert openai_fake.calls[0].headers["x-title"] == "tg"


async def test_anthropic_streamed_cost_equals_non_streamed_with_cache_reads_and_writes(
    router: Router, anthropic_fake: FakeAnthropic
) -> None:
    provider = await router.provider("anthropic", base_url=anthropic_fake.base_url, api_key="sk-ant")
    await router.deployment("claude", provider, "claude-sonnet-4-5", **PRICES)
    client = sdk(router, await router.key())
    behavior = Behavior(
        content="an answer from claude",
        prompt_tokens=5000,
        completion_tokens=120,
        cached_tokens=3000,
        cache_write_tokens=1500,
    )
    anthropic_fake.push(behavior, times=2)
    plain = await json_cost(client, "claude")
    streamed = await stream_cost(client, "claude")
    expected = cost_micro_usd(
        Usage(prompt_tokens=5000, completion_tokens=120, cached_tokens=3000, cache_write_tokens=1500), P()
    )
    assert plain[0] == streamed[0] == "an answer from claude"
    assert plain[1] == streamed[1] == expected
    for usage in (plain[2], streamed[2]):
        assert usage.prompt_tokens == 5000
        assert usage.completion_tokens == 120
        assert usage.prompt_tokens_details.cached_tokens == 3000
    sent = anthropic_fake.calls[0]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == "sk-ant"
    assert sent.json["model"] == "claude-sonnet-4-5"
    assert sent.json["max_tokens"] == 4096


async def test_anthropic_answers_tool_calls_in_openai_shape(
    router: Router, anthropic_fake: FakeAnthropic
) -> None:
    provider = await router.provider("anthropic", base_url=anthropic_fake.base_url, api_key="sk-ant")
    await router.deployment("claude", provider, "claude-sonnet-4-5", **PRICES)
    client = sdk(router, await router.key())
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    anthropic_fake.push(Behavior(tool_call=ToolCall(name="get_weather", arguments={"city": "Oslo"})), times=2)
    completion = await client.chat.completions.create(
        model="claude",
        messages=[
            {"role": "system", "content": "Use tools."},
            {"role": "user", "content": "weather in Oslo?"},
        ],
        tools=tools,  # type: ignore[arg-type]
        tool_choice="required",
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
    sent = anthropic_fake.calls[0].json
    assert sent["system"] == "Use tools."
    assert sent["tool_choice"] == {"type": "any"}
    assert sent["tools"][0]["input_schema"]["properties"] == {"city": {"type": "string"}}

    stream = await client.chat.completions.create(
        model="claude",
        messages=[{"role": "user", "content": "weather?"}],
        tools=tools,
        stream=True,  # type: ignore[arg-type]
    )
    arguments, name, finish = "", "", None
    async for chunk in stream:
        for part in chunk.choices[0].delta.tool_calls or () if chunk.choices else ():
            name = part.function.name or name  # type: ignore[union-attr]
            arguments += part.function.arguments or ""  # type: ignore[union-attr]
        if chunk.choices and chunk.choices[0].finish_reason:
            finish = chunk.choices[0].finish_reason
    assert name == "get_weather"
    assert json.loads(arguments) == {"city": "Oslo"}
    assert finish == "tool_calls"


async def test_anthropic_overloaded_is_retried(router: Router, anthropic_fake: FakeAnthropic) -> None:
    provider = await router.provider("anthropic", base_url=anthropic_fake.base_url, api_key="sk-ant")
    await router.deployment("claude", provider, "claude-sonnet-4-5", max_retries=1, **PRICES)
    anthropic_fake.push(Behavior(status=529))
    response = await router.chat(
        await router.key(), {"model": "claude", "messages": [{"role": "user", "content": "x"}]}
    )
    assert response.status_code == 200
    assert response.headers["x-tollgate-attempts"] == "2"


async def test_mock_provider_demo_path_needs_no_key_and_is_deterministic(router: Router) -> None:
    provider = await router.provider("mock")
    await router.deployment("demo", provider, "mock-1", **PRICES)
    client = sdk(router, await router.key())
    first = await json_cost(client, "demo")
    again = await json_cost(client, "demo")
    streamed = await stream_cost(client, "demo")
    assert first[0] == again[0] == streamed[0]
    assert first[0].startswith("Mock answer ")
    assert first[2].prompt_tokens == 2  # ceil(len("hello") / 4)
    assert (
        first[1]
        == again[1]
        == streamed[1]
        == cost_micro_usd(Usage(prompt_tokens=2, completion_tokens=first[2].completion_tokens), P())
    )
    embedding = await client.embeddings.create(model="demo", input="hello")
    assert len(embedding.data[0].embedding) == 8


async def test_embeddings_on_a_chat_only_provider_is_the_callers_400(
    router: Router, anthropic_fake: FakeAnthropic
) -> None:
    provider = await router.provider("anthropic", base_url=anthropic_fake.base_url, api_key="sk-ant")
    await router.deployment("claude", provider, "claude-sonnet-4-5", **PRICES)
    response = await router.client.post(
        "/v1/embeddings",
        json={"model": "claude", "input": "x"},
        headers={"authorization": f"Bearer {await router.key()}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert anthropic_fake.calls == []


async def test_anthropic_stream_error_event_before_any_chunk_is_retried(
    router: Router, anthropic_fake: FakeAnthropic
) -> None:
    provider = await router.provider("anthropic", base_url=anthropic_fake.base_url, api_key="sk-ant")
    await router.deployment("claude", provider, "claude-sonnet-4-5", max_retries=1, **PRICES)
    anthropic_fake.push(Behavior(error_after_chunks=0))
    anthropic_fake.push(Behavior(content="second try", prompt_tokens=10, completion_tokens=3))
    response = await router.chat(
        await router.key(),
        {"model": "claude", "messages": [{"role": "user", "content": "x"}], "stream": True},
    )
    assert response.status_code == 200
    assert response.headers["x-tollgate-attempts"] == "2"
    assert "second try" in "".join(
        json.loads(f[6:])["choices"][0]["delta"].get("content") or ""
        for f in response.text.split("\n\n")
        if f.startswith("data: {") and '"choices":[{' in f
    )
