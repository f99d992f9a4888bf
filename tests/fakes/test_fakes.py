"""The fake providers speak each provider's wire format, and fail exactly as scripted."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import os
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes import Behavior, FakeAnthropic, FakeOpenAI, ToolCall, estimate_tokens, fake_embedding
from tests.fakes.fast import FastFake

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-test-0123456789"
AKEY = "ak-test-0123456789"
OA_HEADERS = {"authorization": f"Bearer {KEY}"}
AN_HEADERS = {"x-api-key": AKEY, "anthropic-version": "2023-06-01"}
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
ATOOLS = [{"name": "get_weather", "input_schema": {"type": "object"}}]


@pytest.fixture
def oai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=KEY) as fake:
        yield fake


@pytest.fixture
def anth() -> Iterator[FakeAnthropic]:
    with FakeAnthropic(api_key=AKEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:  # one client: building one costs ~50 ms (its SSL context)
    with httpx.Client(timeout=5.0) as c:
        yield c


def chat_body(text: str = "Hello there, fake provider!", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def msg_body(text: str = "Hello there, fake provider!", **extra: Any) -> dict[str, Any]:
    return {"model": "claude-x", "max_tokens": 256, "messages": [{"role": "user", "content": text}], **extra}


def chat(client: httpx.Client, fake: FakeOpenAI, **extra: Any) -> httpx.Response:
    return client.post(fake.base_url + "/chat/completions", json=chat_body(**extra), headers=OA_HEADERS)


def messages(client: httpx.Client, fake: FakeAnthropic, **extra: Any) -> httpx.Response:
    return client.post(fake.base_url + "/v1/messages", json=msg_body(**extra), headers=AN_HEADERS)


def sse_raw(client: httpx.Client, url: str, body: dict[str, Any], headers: dict[str, str]) -> str:
    with client.stream("POST", url, json=body, headers=headers) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["transfer-encoding"] == "chunked"
        return resp.read().decode()


def openai_events(raw: str) -> list[Any]:
    """Parse OpenAI SSE strictly: every event is exactly one `data: ` line followed by a blank line."""
    assert raw.endswith("\n\n")
    events: list[Any] = []
    for block in raw[:-2].split("\n\n"):
        assert block.startswith("data: ")
        assert "\n" not in block
        payload = block[len("data: ") :]
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def anthropic_events(raw: str) -> list[tuple[str, dict[str, Any]]]:
    assert raw.endswith("\n\n")
    events = []
    for block in raw[:-2].split("\n\n"):
        event_line, data_line = block.split("\n")
        assert event_line.startswith("event: ")
        assert data_line.startswith("data: ")
        data = json.loads(data_line[len("data: ") :])
        assert data["type"] == event_line[len("event: ") :]
        events.append((data["type"], data))
    return events


# ====================================================================== OpenAI
def test_openai_chat_completion_echoes_last_user_message_with_deterministic_usage(oai, client):
    text = "What is the capital of France, and why is it Paris?"
    resp = client.post(
        oai.base_url + "/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": text}]},
            ],
        },
        headers=OA_HEADERS,
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json"
    assert resp.headers["x-request-id"].startswith("req_")
    data = resp.json()
    assert data["object"] == "chat.completion"
    assert data["id"].startswith("chatcmpl-")
    assert data["model"] == "gpt-4o-mini"
    choice = data["choices"][0]
    content = "echo: " + text[:40]
    assert choice["message"] == {"role": "assistant", "content": content, "refusal": None, "annotations": []}
    assert choice["finish_reason"] == "stop"
    prompt = math.ceil(len("Be brief." + text) / 4)
    completion = math.ceil(len(content) / 4)
    assert data["usage"]["prompt_tokens"] == prompt
    assert data["usage"]["completion_tokens"] == completion
    assert data["usage"]["total_tokens"] == prompt + completion
    assert data["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


def test_openai_usage_overrides_and_cached_tokens(oai, client):
    oai.push(
        Behavior(
            content="fixed", prompt_tokens=1000, completion_tokens=7, cached_tokens=600, model="gpt-x-2025"
        )
    )
    data = chat(client, oai).json()
    assert data["model"] == "gpt-x-2025"
    assert data["choices"][0]["message"]["content"] == "fixed"
    usage = data["usage"]
    assert (usage["prompt_tokens"], usage["completion_tokens"], usage["total_tokens"]) == (1000, 7, 1007)
    assert usage["prompt_tokens_details"]["cached_tokens"] == 600


def test_behavior_rejects_cached_tokens_above_the_prompt():
    with pytest.raises(ValueError):
        Behavior(prompt_tokens=10, cached_tokens=11)


def test_openai_max_tokens_cuts_the_reply_with_finish_reason_length(oai, client):
    data = chat(client, oai, text="x" * 100, max_tokens=3).json()
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["choices"][0]["message"]["content"] == ("echo: " + "x" * 40)[:12]
    assert data["usage"]["completion_tokens"] == 3


def test_openai_response_format_json_gets_a_json_reply(oai, client):
    data = chat(client, oai, response_format={"type": "json_object"}).json()
    assert json.loads(data["choices"][0]["message"]["content"]) == {
        "reply": "echo: Hello there, fake provider!"
    }


def test_openai_auth_rejects_missing_and_wrong_keys_without_consuming_behaviors(oai, client):
    oai.push(Behavior(content="kept"))
    missing = client.post(oai.base_url + "/chat/completions", json=chat_body())
    wrong = client.post(
        oai.base_url + "/chat/completions",
        json=chat_body(),
        headers={"authorization": "Bearer sk-wrong-123456"},
    )
    for resp in (missing, wrong):
        assert resp.status_code == 401
        assert set(resp.json()["error"]) == {"message", "type", "param", "code"}
        assert resp.json()["error"]["type"] == "invalid_request_error"
    assert wrong.json()["error"]["code"] == "invalid_api_key"
    assert oai.pending == 1
    assert chat(client, oai).json()["choices"][0]["message"]["content"] == "kept"
    assert [r.behavior is not None for r in oai.requests] == [False, False, True]


def test_openai_invalid_requests_are_400(oai, client):
    no_model = client.post(oai.base_url + "/chat/completions", json={"messages": []}, headers=OA_HEADERS)
    assert no_model.status_code == 400
    no_messages = client.post(oai.base_url + "/chat/completions", json={"model": "m"}, headers=OA_HEADERS)
    assert no_messages.json()["error"]["param"] == "messages"
    options = chat(client, oai, stream_options={"include_usage": True})
    assert options.status_code == 400
    assert options.json()["error"]["param"] == "stream_options"
    not_json = client.post(oai.base_url + "/chat/completions", content=b"{nope", headers=OA_HEADERS)
    assert not_json.status_code == 400
    assert client.get(oai.url + "/v1/nothing", headers=OA_HEADERS).status_code == 404
    assert oai.calls == []


@pytest.mark.parametrize(
    ("status", "err_type", "code"),
    [
        (400, "invalid_request_error", None),
        (401, "invalid_request_error", "invalid_api_key"),
        (404, "invalid_request_error", "model_not_found"),
        (429, "requests", "rate_limit_exceeded"),
        (500, "server_error", None),
        (503, "server_error", None),
    ],
)
def test_openai_scripted_status_answers_in_openai_error_shape(oai, client, status, err_type, code):
    oai.push(status=status)
    resp = chat(client, oai, stream=True)  # errors come as JSON even for a stream request
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["error"]
    assert (error["type"], error["code"]) == (err_type, code)
    assert error["message"]
    assert ("retry-after" in resp.headers) == (status == 429)
    if status == 429:
        assert resp.headers["retry-after"] == "1"


def test_error_overrides_and_extra_headers(oai, client):
    oai.push(
        Behavior(
            status=400,
            error_code="context_length_exceeded",
            error_message="too long",
            headers={"x-ratelimit-remaining-requests": "0"},
        )
    )
    oai.push(Behavior(status=503, retry_after=2.5))
    first, second = chat(client, oai), chat(client, oai)
    assert first.json()["error"]["code"] == "context_length_exceeded"
    assert first.json()["error"]["message"] == "too long"
    assert first.headers["x-ratelimit-remaining-requests"] == "0"
    assert second.headers["retry-after"] == "2.5"


def test_openai_stream_framing_with_include_usage(oai, client):
    oai.push(Behavior(content="abcdefghij", n_chunks=5, prompt_tokens=42))
    raw = sse_raw(
        client,
        oai.base_url + "/chat/completions",
        chat_body(stream=True, stream_options={"include_usage": True}),
        OA_HEADERS,
    )
    events = openai_events(raw)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert len(chunks) == 1 + 5 + 1 + 1  # role, content deltas, finish, usage
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[:-1]) == "abcdefghij"
    assert [c["choices"][0]["finish_reason"] for c in chunks[:-1]] == [None] * 6 + ["stop"]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["prompt_tokens"] == 42
    assert chunks[-1]["usage"]["completion_tokens"] == estimate_tokens("abcdefghij")
    assert chunks[-1]["usage"]["total_tokens"] == 42 + 3


def test_openai_stream_without_include_usage_has_no_usage(oai, client):
    chunks = openai_events(
        sse_raw(client, oai.base_url + "/chat/completions", chat_body(stream=True), OA_HEADERS)
    )
    assert chunks[-1] == "[DONE]"
    assert all("usage" not in c for c in chunks[:-1])
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"


def test_openai_tool_call_json(oai, client):
    oai.default = Behavior(tool_call=ToolCall(name="get_weather", arguments={"city": "Paris"}, id="call_1"))
    data = chat(client, oai, tools=TOOLS).json()
    choice = data["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
        }
    ]
    # Without tools in the request the scripted tool call is not used.
    plain = chat(client, oai).json()["choices"][0]
    assert plain["finish_reason"] == "stop"
    assert "tool_calls" not in plain["message"]


def test_openai_tool_calls_stream_as_deltas(oai, client):
    calls = (
        ToolCall(name="get_weather", arguments={"city": "Paris"}),
        ToolCall(name="get_time", arguments='{"tz": "CET"}'),
    )
    oai.push(Behavior(tool_call=calls, n_chunks=3))
    chunks = openai_events(
        sse_raw(client, oai.base_url + "/chat/completions", chat_body(stream=True, tools=TOOLS), OA_HEADERS)
    )[:-1]
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant"
    assert first["content"] is None
    rebuilt: dict[int, dict[str, str]] = {}
    for c in chunks:
        for tc in c["choices"][0]["delta"].get("tool_calls", []):
            slot = rebuilt.setdefault(tc["index"], {"id": "", "name": "", "arguments": ""})
            if "id" in tc:
                slot["id"] = tc["id"]
                assert tc["type"] == "function"
            slot["name"] += tc["function"].get("name", "")
            slot["arguments"] += tc["function"].get("arguments", "")
    assert rebuilt[0]["name"] == "get_weather"
    assert json.loads(rebuilt[0]["arguments"]) == {"city": "Paris"}
    assert rebuilt[1]["name"] == "get_time"
    assert rebuilt[1]["arguments"] == '{"tz": "CET"}'
    assert rebuilt[0]["id"] != rebuilt[1]["id"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_embeddings_are_deterministic_unit_vectors(oai, client):
    body = {"model": "text-embedding-3-small", "input": ["hello world", "bye"], "dimensions": 8}
    first = client.post(oai.base_url + "/embeddings", json=body, headers=OA_HEADERS).json()
    again = client.post(oai.base_url + "/embeddings", json=body, headers=OA_HEADERS).json()
    assert first["object"] == "list"
    assert first["data"] == again["data"]
    assert [d["index"] for d in first["data"]] == [0, 1]
    vec = first["data"][0]["embedding"]
    assert len(vec) == 8
    assert math.isclose(sum(v * v for v in vec), 1.0, rel_tol=1e-9)
    assert first["data"][0]["embedding"] != first["data"][1]["embedding"]
    assert first["usage"] == {
        "prompt_tokens": estimate_tokens("hello world") + estimate_tokens("bye"),
        "total_tokens": estimate_tokens("hello world") + estimate_tokens("bye"),
    }
    b64 = client.post(
        oai.base_url + "/embeddings",
        headers=OA_HEADERS,
        json={"model": "m", "input": "hello world", "encoding_format": "base64"},
    ).json()
    decoded = struct.unpack("<16f", base64.b64decode(b64["data"][0]["embedding"]))
    assert all(
        math.isclose(a, b, rel_tol=1e-6)
        for a, b in zip(decoded, fake_embedding("hello world", 16), strict=True)
    )


def test_openai_models(oai, client):
    data = client.get(oai.base_url + "/models", headers=OA_HEADERS).json()
    assert data["object"] == "list"
    assert {m["id"] for m in data["data"]} >= {"gpt-4o-mini"}
    assert client.get(oai.base_url + "/models/gpt-4o", headers=OA_HEADERS).json()["id"] == "gpt-4o"
    assert client.get(oai.base_url + "/models/nope", headers=OA_HEADERS).status_code == 404


def test_azure_deployment_path_with_api_key_header(oai, client):
    url = oai.azure_endpoint + "/openai/deployments/my-gpt/chat/completions"
    body = {"messages": [{"role": "user", "content": "hi"}]}
    ok = client.post(url, params={"api-version": "2024-10-21"}, json=body, headers={"api-key": KEY})
    assert ok.status_code == 200
    assert ok.json()["model"] == "my-gpt"
    assert oai.last_request.query == {"api-version": "2024-10-21"}
    bad_key = client.post(url, params={"api-version": "2024-10-21"}, json=body, headers={"api-key": "nope"})
    assert bad_key.status_code == 401
    assert bad_key.json()["error"]["code"] == "401"
    assert client.post(url, json=body, headers={"api-key": KEY}).status_code == 404  # no api-version


# ====================================================================== Anthropic
def test_anthropic_message_shape_and_usage(anth, client):
    resp = client.post(
        anth.base_url + "/v1/messages",
        headers=AN_HEADERS,
        json={
            "model": "claude-x",
            "max_tokens": 100,
            "system": "Be brief.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hello Claude"}]}],
        },
    )
    assert resp.status_code == 200
    assert resp.headers["request-id"].startswith("req_")
    data = resp.json()
    assert data["id"].startswith("msg_")
    assert (data["type"], data["role"], data["model"]) == ("message", "assistant", "claude-x")
    assert data["content"] == [{"type": "text", "text": "echo: Hello Claude"}]
    assert (data["stop_reason"], data["stop_sequence"]) == ("end_turn", None)
    assert data["usage"] == {
        "input_tokens": estimate_tokens("Be brief.Hello Claude"),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": estimate_tokens("echo: Hello Claude"),
    }


def test_anthropic_cache_tokens_map_from_the_total_prompt(anth, client):
    anth.push(Behavior(prompt_tokens=100, cached_tokens=60, cache_write_tokens=30, completion_tokens=5))
    assert messages(client, anth).json()["usage"] == {
        "input_tokens": 10,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 60,
        "output_tokens": 5,
    }


def test_anthropic_requires_key_and_version_headers(anth, client):
    url = anth.base_url + "/v1/messages"
    no_key = client.post(url, json=msg_body(), headers={"anthropic-version": "2023-06-01"})
    wrong = client.post(url, json=msg_body(), headers={"x-api-key": "bad", "anthropic-version": "2023-06-01"})
    no_version = client.post(url, json=msg_body(), headers={"x-api-key": AKEY})
    assert (no_key.status_code, wrong.status_code, no_version.status_code) == (401, 401, 400)
    assert no_key.json() == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "x-api-key header is required"},
    }
    assert wrong.json()["error"]["type"] == "authentication_error"
    assert no_version.json()["error"]["type"] == "invalid_request_error"
    bearer = client.post(
        url, json=msg_body(), headers={"authorization": f"Bearer {AKEY}", "anthropic-version": "2023-06-01"}
    )
    assert bearer.status_code == 200  # what anthropic-python 2.x sends
    assert len(anth.calls) == 1


def test_anthropic_validates_like_the_api(anth, client):
    url = anth.base_url + "/v1/messages"
    no_max = client.post(
        url, json={"model": "m", "messages": [{"role": "user", "content": "x"}]}, headers=AN_HEADERS
    )
    assert no_max.status_code == 400
    assert "max_tokens" in no_max.json()["error"]["message"]
    system_role = client.post(
        url,
        headers=AN_HEADERS,
        json={"model": "m", "max_tokens": 5, "messages": [{"role": "system", "content": "x"}]},
    )
    assert system_role.status_code == 400
    assert anth.calls == []


@pytest.mark.parametrize(
    ("status", "err_type"),
    [
        (529, "overloaded_error"),
        (429, "rate_limit_error"),
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (500, "api_error"),
        (503, "api_error"),
    ],
)
def test_anthropic_scripted_status_answers_in_anthropic_error_shape(anth, client, status, err_type):
    anth.push(status=status)
    resp = messages(client, anth, stream=True)
    assert resp.status_code == status
    body = resp.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == err_type
    assert body["error"]["message"]
    assert body["request_id"] == resp.headers["request-id"]
    assert ("retry-after" in resp.headers) == (status == 429)


def test_anthropic_stream_event_sequence(anth, client):
    anth.push(Behavior(content="abcdef", n_chunks=3, prompt_tokens=50, cached_tokens=20))
    events = anthropic_events(
        sse_raw(client, anth.base_url + "/v1/messages", msg_body(stream=True), AN_HEADERS)
    )
    assert [t for t, _ in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    start = events[0][1]["message"]
    assert start["content"] == []
    assert start["stop_reason"] is None
    assert start["usage"]["input_tokens"] == 30
    assert start["usage"]["cache_read_input_tokens"] == 20
    assert events[1][1]["content_block"] == {"type": "text", "text": ""}
    assert "".join(e["delta"]["text"] for t, e in events if t == "content_block_delta") == "abcdef"
    assert all(e["delta"]["type"] == "text_delta" for t, e in events if t == "content_block_delta")
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert delta["usage"] == {"output_tokens": estimate_tokens("abcdef")}


def test_anthropic_tool_use_json_and_stream(anth, client):
    anth.default = Behavior(
        content="Checking.", tool_call=ToolCall(name="get_weather", arguments={"city": "Paris"})
    )
    data = messages(client, anth, tools=ATOOLS).json()
    assert data["stop_reason"] == "tool_use"
    assert data["content"][0] == {"type": "text", "text": "Checking."}
    tool = data["content"][1]
    assert (tool["type"], tool["name"], tool["input"]) == ("tool_use", "get_weather", {"city": "Paris"})
    assert tool["id"].startswith("toolu_")

    events = anthropic_events(
        sse_raw(client, anth.base_url + "/v1/messages", msg_body(stream=True, tools=ATOOLS), AN_HEADERS)
    )
    starts = [e for t, e in events if t == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["text", "tool_use"]
    assert starts[1]["index"] == 1
    assert starts[1]["content_block"]["input"] == {}
    partial = "".join(
        e["delta"]["partial_json"]
        for t, e in events
        if t == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(partial) == {"city": "Paris"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_anthropic_error_event_mid_stream(anth, client):
    anth.push(error_after_chunks=2)
    events = anthropic_events(
        sse_raw(client, anth.base_url + "/v1/messages", msg_body(stream=True), AN_HEADERS)
    )
    assert [t for t, _ in events] == ["message_start", "content_block_start", "error"]
    assert events[-1][1]["error"] == {"type": "overloaded_error", "message": "Overloaded"}


# ====================================================================== failures (both providers)
def test_truncated_openai_stream_ends_without_done(oai, client):
    oai.push(truncate_after_chunks=3)
    received = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "POST", oai.base_url + "/chat/completions", json=chat_body(stream=True), headers=OA_HEADERS
        ) as resp,
    ):
        received.extend(line for line in resp.iter_lines() if line)
    assert len(received) == 3
    assert "data: [DONE]" not in received


def test_truncated_anthropic_stream_ends_without_message_stop(anth, client):
    anth.push(truncate_after_chunks=4)
    received = []
    with (
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "POST", anth.base_url + "/v1/messages", json=msg_body(stream=True), headers=AN_HEADERS
        ) as resp,
    ):
        received.extend(line for line in resp.iter_lines() if line.startswith("event: "))
    assert received == [
        "event: message_start",
        "event: content_block_start",
        "event: ping",
        "event: content_block_delta",
    ]


def test_clean_truncation_ends_the_http_body_but_not_the_stream(oai, client):
    oai.push(truncate_after_chunks=2, truncate_clean=True)
    events = openai_events(
        sse_raw(client, oai.base_url + "/chat/completions", chat_body(stream=True), OA_HEADERS)
    )
    assert len(events) == 2
    assert "[DONE]" not in events
    assert chat(client, oai).status_code == 200  # the connection stays usable


def test_openai_error_mid_stream(oai, client):
    oai.push(error_after_chunks=1)
    events = openai_events(
        sse_raw(client, oai.base_url + "/chat/completions", chat_body(stream=True), OA_HEADERS)
    )
    assert len(events) == 2
    assert events[1]["error"]["type"] == "server_error"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_dropped_connection_is_a_transport_error(oai, anth, client, provider):
    fake = oai if provider == "openai" else anth
    fake.push(drop_connection=True)
    with pytest.raises(httpx.TransportError):
        chat(client, oai) if provider == "openai" else messages(client, anth)
    assert len(fake.calls) == 1
    # the next request (new connection) is answered normally
    assert (chat(client, oai) if provider == "openai" else messages(client, anth)).status_code == 200


def test_delay_before_headers_and_client_timeouts(oai, client):
    oai.push(delay_s=0.15)
    started = time.perf_counter()
    assert chat(client, oai).status_code == 200
    assert time.perf_counter() - started >= 0.15
    oai.push(delay_s=1.0)
    with pytest.raises(httpx.ReadTimeout):
        client.post(oai.base_url + "/chat/completions", json=chat_body(), headers=OA_HEADERS, timeout=0.1)
    assert len(oai.calls) == 2  # recorded on arrival, before the delay


def test_chunk_delay_spaces_the_events(anth, client):
    anth.push(chunk_delay_s=0.02, content="abcd", n_chunks=2)  # 8 events -> 7 gaps
    arrivals = []
    with client.stream(
        "POST", anth.base_url + "/v1/messages", json=msg_body(stream=True), headers=AN_HEADERS
    ) as r:
        arrivals.extend(time.perf_counter() for line in r.iter_lines() if line.startswith("event: "))
    assert len(arrivals) == 8
    assert arrivals[-1] - arrivals[0] >= 7 * 0.02 * 0.9


# ====================================================================== scripting and recording
def test_push_is_fifo_with_times_then_default(oai, client):
    oai.default = Behavior(content="default")
    oai.push(Behavior(content="a"), times=2)
    oai.push(content="b")
    got = [chat(client, oai).json()["choices"][0]["message"]["content"] for _ in range(4)]
    assert got == ["a", "a", "b", "default"]
    assert oai.pending == 0


def test_requests_are_recorded_and_reset_forgets(oai, client):
    chat(client, oai, temperature=0.5)
    client.get(oai.base_url + "/models", headers=OA_HEADERS)
    first, second = oai.requests
    assert (first.method, first.path) == ("POST", "/v1/chat/completions")
    assert first.headers["authorization"] == f"Bearer {KEY}"
    assert first.json["temperature"] == 0.5
    assert first.behavior == Behavior()
    assert second.behavior is None  # /v1/models is not a model call
    assert oai.calls == [first]
    oai.push(status=500)
    oai.default = Behavior(content="x")
    oai.reset()
    assert (oai.requests, oai.pending, oai.default) == ([], 0, Behavior())


def test_wait_for_requests_times_out(oai):
    with pytest.raises(TimeoutError):
        oai.wait_for_requests(1, timeout=0.05)


def test_concurrent_async_clients_on_another_loop_and_threads(oai):
    oai.default = Behavior(delay_s=0.1)
    oai.push(status=429, times=10)

    async def main() -> list[int]:
        async with httpx.AsyncClient(timeout=5.0) as c:
            results = await asyncio.gather(
                *[
                    c.post(oai.base_url + "/chat/completions", json=chat_body(), headers=OA_HEADERS)
                    for _ in range(30)
                ]
            )
        return [r.status_code for r in results]

    def pusher() -> None:
        for _ in range(10):
            oai.push(status=500)

    started = time.perf_counter()
    thread = threading.Thread(target=pusher)
    thread.start()
    statuses = asyncio.run(main())
    thread.join()
    assert time.perf_counter() - started < 1.0  # delays overlap: answered concurrently
    assert statuses.count(429) == 10
    assert statuses.count(500) + statuses.count(200) == 20
    assert statuses.count(500) + oai.pending == 10
    assert len(oai.requests) == 30


def test_fixed_port_and_restart_free_ports():
    with FakeOpenAI() as first:
        port = first.port
    with FakeOpenAI(port=port) as again:
        assert again.base_url == f"http://127.0.0.1:{port}/v1"
    with FakeAnthropic() as anth:
        assert anth.base_url == f"http://127.0.0.1:{anth.port}"


# ====================================================================== real SDKs parse the fakes
@pytest.mark.slow  # importing openai costs ~1.5 s
def test_openai_sdk_parses_json_stream_and_tool_calls(oai, client):
    openai = pytest.importorskip("openai")
    sdk = openai.OpenAI(base_url=oai.base_url, api_key=KEY, max_retries=0, http_client=client)
    reply = sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])
    assert reply.choices[0].message.content == "echo: Hi"
    oai.push(tool_call=ToolCall(name="get_weather", arguments={"city": "Oslo"}))
    stream = sdk.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Hi"}],
        tools=TOOLS,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    args = "".join(
        c.choices[0].delta.tool_calls[0].function.arguments or ""
        for c in chunks
        if c.choices and c.choices[0].delta.tool_calls
    )
    assert json.loads(args) == {"city": "Oslo"}
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens > 0
    oai.push(status=429)
    with pytest.raises(openai.RateLimitError):
        sdk.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}])


@pytest.mark.slow
def test_anthropic_sdk_parses_stream(anth):
    anthropic = pytest.importorskip("anthropic")
    with anthropic.Anthropic(base_url=anth.base_url, api_key=AKEY, max_retries=0) as sdk:
        anth.push(prompt_tokens=40, cached_tokens=10)
        with sdk.messages.stream(
            model="claude-x", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
        ) as stream:
            final = stream.get_final_message()
    assert final.content[0].text == "echo: Hi"
    assert (final.usage.input_tokens, final.usage.cache_read_input_tokens) == (30, 10)


# ====================================================================== fast mode
def test_fast_fake_in_process_serves_fixed_answers(client):
    with FastFake("openai", api_key=KEY, content="fast!") as fast:
        data = client.post(fast.base_url + "/chat/completions", json=chat_body(), headers=OA_HEADERS).json()
        assert data["choices"][0]["message"]["content"] == "fast!"
        events = openai_events(
            sse_raw(
                client,
                fast.base_url + "/chat/completions",
                chat_body(stream=True, stream_options={"include_usage": True}),
                OA_HEADERS,
            )
        )
        assert events[-1] == "[DONE]"
        assert events[-2]["usage"]["completion_tokens"] == estimate_tokens("fast!")
        assert client.post(fast.base_url + "/chat/completions", json=chat_body()).status_code == 401
    with FastFake("anthropic", chunk_delay_s=0.001) as fast:
        events = anthropic_events(
            sse_raw(client, fast.base_url + "/v1/messages", msg_body(stream=True), AN_HEADERS)
        )
        assert events[-1][0] == "message_stop"


def test_cli_fast_mode_with_two_workers(client):
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes", "--kind", "openai", "--port", "0", "--workers", "2"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("tollgate-fake kind=openai mode=fast workers=2 ")
        base_url = line.split("base_url=")[1].strip()
        for _ in range(5):
            resp = client.post(base_url + "/chat/completions", json=chat_body())
            assert resp.status_code == 200
            assert resp.json()["object"] == "chat.completion"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        if proc.stdout is not None:
            proc.stdout.close()
