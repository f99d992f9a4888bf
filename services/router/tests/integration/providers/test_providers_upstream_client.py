"""The provider adapters on the lean upstream client, against the fake providers and a raw SSE server:
JSON and streamed calls, status errors, transport failures, and SSE framing split across TCP reads."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import msgspec
import pytest

from tests.fakes import Behavior, FakeAnthropic, FakeOpenAI
from tollgate_common.env import Secret
from tollgate_router.providers.anthropic import AnthropicProvider
from tollgate_router.providers.errors import (
    UpstreamBadResponse,
    UpstreamStatus,
    UpstreamTimedOut,
    UpstreamUnreachable,
)
from tollgate_router.providers.http import UpstreamClient
from tollgate_router.providers.openai import OpenAIProvider
from tollgate_router.providers.registry import ProviderRegistry, make_upstream_client

CHAT = {"model": "chat", "messages": [{"role": "user", "content": "Hello there, upstream"}]}


@dataclass
class Deployment:
    base_url: str | None
    api_key: Secret | None = None
    upstream_model: str = "gpt-4o-mini"
    timeout_s: float = 2.0
    settings: Mapping[str, Any] = field(default_factory=dict)
    id: UUID = field(default_factory=uuid4)


@pytest.fixture
async def upstream() -> AsyncIterator[UpstreamClient]:
    client = make_upstream_client(pool_limit=8, pool_limit_per_host=4, connect_timeout_s=2.0)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def openai_fake() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="sk-up") as fake:
        yield fake


@pytest.fixture
def anthropic_fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key="sk-ant") as fake:
        yield fake


async def test_openai_chat_stream_and_embeddings_through_the_client(
    upstream: UpstreamClient, openai_fake: FakeOpenAI
) -> None:
    provider = ProviderRegistry(upstream).get("openai")
    target = Deployment(openai_fake.base_url, Secret("sk-up"))

    answer = await provider.chat(target, dict(CHAT))
    assert msgspec.json.decode(answer.body)["choices"][0]["message"]["content"].startswith("echo: Hello")
    assert answer.usage.completion_tokens > 0

    chunks = [chunk async for chunk in provider.chat_stream(target, dict(CHAT))]
    assert chunks[-1].usage is not None
    assert chunks[-1].usage == answer.usage
    text = "".join(
        msgspec.json.decode(c.data)["choices"][0]["delta"].get("content") or ""
        for c in chunks
        if not c.usage_only
    )
    assert text == msgspec.json.decode(answer.body)["choices"][0]["message"]["content"]

    embedded = await provider.embeddings(target, {"model": "e", "input": "some text"})
    assert embedded.usage.prompt_tokens > 0
    assert openai_fake.requests[0].headers["authorization"] == "Bearer sk-up"
    assert "accept-encoding" not in openai_fake.requests[0].headers


async def test_anthropic_chat_and_stream_through_the_client(
    upstream: UpstreamClient, anthropic_fake: FakeAnthropic
) -> None:
    provider = AnthropicProvider(upstream)
    target = Deployment(anthropic_fake.base_url, Secret("sk-ant"), upstream_model="claude-sonnet-4-5")
    answer = await provider.chat(target, dict(CHAT))
    chunks = [chunk async for chunk in provider.chat_stream(target, dict(CHAT))]
    assert [c.usage for c in chunks if c.usage is not None] == [answer.usage]
    assert anthropic_fake.requests[0].headers["x-api-key"] == "sk-ant"


async def test_status_errors_keep_their_code_message_and_retry_after(
    upstream: UpstreamClient, openai_fake: FakeOpenAI
) -> None:
    provider = OpenAIProvider(upstream)
    target = Deployment(openai_fake.base_url, Secret("sk-up"))
    openai_fake.push(Behavior(status=429, retry_after=3, error_message="slow down"))
    with pytest.raises(UpstreamStatus) as caught:
        await provider.chat(target, dict(CHAT))
    assert (caught.value.status, caught.value.message, caught.value.retry_after_s) == (429, "slow down", 3.0)

    openai_fake.push(Behavior(status=503))
    with pytest.raises(UpstreamStatus) as caught:
        [chunk async for chunk in provider.chat_stream(target, dict(CHAT))]
    assert caught.value.status == 503
    assert (await provider.chat(target, dict(CHAT))).usage.prompt_tokens > 0  # the connection is fine


@pytest.mark.parametrize(
    ("behavior", "error"),
    [
        (Behavior(drop_connection=True), UpstreamUnreachable),
        (Behavior(delay_s=0.5), UpstreamTimedOut),
        (Behavior(truncate_after_chunks=2), UpstreamUnreachable),
        (Behavior(truncate_after_chunks=2, truncate_clean=True), UpstreamBadResponse),
    ],
)
async def test_transport_failures_of_a_stream_are_provider_errors(
    upstream: UpstreamClient, openai_fake: FakeOpenAI, behavior: Behavior, error: type[Exception]
) -> None:
    provider = OpenAIProvider(upstream)
    target = Deployment(openai_fake.base_url, Secret("sk-up"), timeout_s=0.2)
    openai_fake.push(behavior)
    with pytest.raises(error):
        [chunk async for chunk in provider.chat_stream(target, dict(CHAT))]
    assert (await provider.chat(target, dict(CHAT))).usage.prompt_tokens > 0  # the next call is served


async def test_sse_events_split_across_reads_with_crlf_and_multi_line_data(upstream: UpstreamClient) -> None:
    events = [
        b": a comment\r\n",
        b'event: message\r\ndata: {"a":',
        b"1}\r",
        b"\n\r\n",
        b"data: line one\ndata:line two\n\n",
        b"id: 7\nretry: 10\n\n",  # no data: no event
        b"data: [DONE]\n\ndata: trailing without blank line",
    ]

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        )
        for part in events:
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            await writer.drain()
            await asyncio.sleep(0.005)  # separate TCP reads
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        provider = OpenAIProvider(upstream)
        url = f"http://127.0.0.1:{port}"
        got = [data async for data in provider.post_sse(Deployment(url), url + "/sse", {}, b"{}")]
    finally:
        server.close()
        await server.wait_closed()
    assert got == [b'{"a":1}', b"line one\nline two", b"[DONE]", b"trailing without blank line"]
