"""How router answers are read and how its failures reach teams (without naming anything)."""

from __future__ import annotations

import pytest

from tollgate_api.calls.service import client_error
from tollgate_api.routerclient.client import RouterError, RouterMeta, RouterStream, _kind_for_status


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, "rate_limited"), (402, "budget"), (401, "auth"), (403, "auth"), (404, "auth"),
     (400, "rejected"), (413, "rejected"), (408, "timeout"), (504, "timeout"), (500, "upstream"),
     (502, "upstream"), (503, "unavailable")],
)  # fmt: skip
def test_router_status_maps_to_a_kind(status: int, kind: str) -> None:
    assert _kind_for_status(status) == kind


@pytest.mark.parametrize(
    ("kind", "status"),
    [("rate_limited", 429), ("budget", 402), ("rejected", 400), ("auth", 503), ("unreachable", 503),
     ("unavailable", 503), ("timeout", 504), ("upstream", 502), ("invalid_response", 502)],
)  # fmt: skip
def test_client_errors_keep_status_and_drop_the_router_message(kind: str, status: int) -> None:
    error = client_error(RouterError(kind, "gpt-4o at openai-eu said no", retry_after_s=7))  # type: ignore[arg-type]
    assert error.status == status
    assert "gpt" not in error.detail
    assert "openai" not in error.detail
    if kind in {"rate_limited", "unavailable"}:
        assert error.headers["Retry-After"] == "7"


def test_headers_give_the_calls_internal_facts() -> None:
    meta = RouterMeta.from_headers(
        {
            "x-tollgate-request-id": "r1",
            "x-tollgate-cost-micro-usd": "1234",
            "x-tollgate-model": "m",
            "x-tollgate-deployment": "d",
            "x-tollgate-attempts": "2",
            "x-tollgate-cache": "hit",
        }
    )
    assert (meta.request_id, meta.cost_micro_usd, meta.model, meta.deployment, meta.attempts) == (
        "r1",
        1234,
        "m",
        "d",
        2,
    )
    assert meta.cache_hit
    assert RouterMeta.from_headers({"x-tollgate-cost-micro-usd": "junk"}).cost_micro_usd == 0


def test_stream_lines_collect_text_tool_calls_usage_and_cost() -> None:
    stream = RouterStream.__new__(RouterStream)
    RouterStream.__init__(stream, None, {}, {})  # type: ignore[arg-type]
    lines = [
        b'data: {"choices":[{"delta":{"role":"assistant"}}]}',
        b'data: {"choices":[{"delta":{"content":"Hel"}}]}',
        b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1",'
        b'"function":{"name":"f","arguments":"{\\"a\\""}}]}}]}',
        b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]}}]}',
        b'data: {"choices":[{"delta":{"content":"lo"},"finish_reason":"stop"}]}',
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"cost_micro_usd":99}}',
        b": x-tollgate-cost-micro-usd=100",
        b"",
        b"data: [DONE]",
    ]
    events = [e for e in (stream._line(line) for line in lines) if e is not None]
    assert stream.text == "Hello"
    assert stream.finish_reason == "stop"
    assert stream.usage == {"prompt_tokens": 3, "completion_tokens": 2, "cost_micro_usd": 99}
    assert stream.meta.cost_micro_usd == 100
    assert stream.done
    assert stream.assembled_tool_calls() == [
        {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    ]
    assert [e.content for e in events if e.content] == ["Hel", "lo"]


def test_an_error_chunk_in_the_stream_raises() -> None:
    stream = RouterStream.__new__(RouterStream)
    RouterStream.__init__(stream, None, {}, {})  # type: ignore[arg-type]
    with pytest.raises(RouterError) as caught:
        stream._line(b'data: {"error":{"message":"upstream died"}}')
    assert caught.value.kind == "upstream"
