"""OpenAI → Anthropic request translation and Anthropic → OpenAI answers, as pure functions."""

from __future__ import annotations

import msgspec
import pytest

from tollgate_router.providers.anthropic import (
    StreamTranslator,
    to_anthropic_request,
    to_openai_response,
)
from tollgate_router.providers.errors import UnsupportedRequest, UpstreamStreamError


def test_system_messages_become_the_system_prompt_and_turns_alternate() -> None:
    request = to_anthropic_request(
        {
            "model": "claude",
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "developer", "content": [{"type": "text", "text": "No emojis."}]},
                {"role": "user", "content": "Hi"},
                {"role": "user", "content": [{"type": "text", "text": "there"}]},
            ],
            "max_tokens": 50,
            "temperature": 0.2,
            "stop": "END",
            "user": "u1",
        },
        model="claude-sonnet-4-5",
    )
    assert request["system"] == "Be terse.\n\nNo emojis."
    assert request["model"] == "claude-sonnet-4-5"
    assert request["max_tokens"] == 50
    assert request["temperature"] == 0.2
    assert request["stop_sequences"] == ["END"]
    assert request["metadata"] == {"user_id": "u1"}
    assert request["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]}
    ]


def test_cache_control_on_system_blocks_is_kept() -> None:
    block = {"type": "text", "text": "long context", "cache_control": {"type": "ephemeral"}}
    request = to_anthropic_request(
        {"messages": [{"role": "system", "content": [block]}, {"role": "user", "content": "q"}]}, model="m"
    )
    assert request["system"] == [block]


def test_max_tokens_defaults_because_anthropic_requires_it() -> None:
    request = to_anthropic_request({"messages": [{"role": "user", "content": "x"}]}, model="m")
    assert request["max_tokens"] == 4096
    assert "system" not in request


def test_tools_tool_calls_and_tool_results_translate() -> None:
    request = to_anthropic_request(
        {
            "messages": [
                {"role": "user", "content": "weather in Paris?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            ],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": "get_weather",
                        "description": "Weather by city",
                        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                    },
                }
            ],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "parallel_tool_calls": False,
        },
        model="m",
    )
    assert request["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather by city",
            "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ]
    assert request["tool_choice"] == {
        "type": "tool",
        "name": "get_weather",
        "disable_parallel_tool_use": True,
    }
    assert request["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}}],
    }
    assert request["messages"][2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "call_1", "content": "sunny"}],
    }


@pytest.mark.parametrize(
    ("choice", "expected"),
    [("auto", {"type": "auto"}), ("none", {"type": "none"}), ("required", {"type": "any"})],
)
def test_tool_choice_keywords(choice: str, expected: dict[str, str]) -> None:
    tools = [{"type": "function", "function": {"name": "f"}}]
    request = to_anthropic_request(
        {"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": choice}, model="m"
    )
    assert request["tool_choice"] == expected


def test_images_become_image_blocks() -> None:
    request = to_anthropic_request(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                    ],
                }
            ]
        },
        model="m",
    )
    blocks = request["messages"][0]["content"]
    assert blocks[0] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
    }
    assert blocks[1] == {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}


def test_n_above_one_is_refused() -> None:
    with pytest.raises(UnsupportedRequest):
        to_anthropic_request({"messages": [{"role": "user", "content": "x"}], "n": 2}, model="m")


def test_response_translation_maps_content_tools_stop_reason_and_usage() -> None:
    completion, usage = to_openai_response(
        {
            "id": "msg_1",
            "model": "claude-sonnet-4-5",
            "content": [
                {"type": "text", "text": "Let me check."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
            ],
            "stop_reason": "tool_use",
            "usage": {
                "input_tokens": 10,
                "output_tokens": 7,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20,
            },
        }
    )
    choice = completion["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] == "Let me check."
    assert choice["message"]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
    }
    assert usage.prompt_tokens == 130
    assert (usage.cached_tokens, usage.cache_write_tokens, usage.completion_tokens) == (100, 20, 7)
    assert completion["usage"]["prompt_tokens_details"] == {"cached_tokens": 100, "cache_write_tokens": 20}


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("max_tokens", "length"),
        ("stop_sequence", "stop"),
        ("refusal", "content_filter"),
    ],
)
def test_stop_reasons(stop_reason: str, finish: str) -> None:
    completion, _ = to_openai_response({"content": [], "stop_reason": stop_reason})
    assert completion["choices"][0]["finish_reason"] == finish


def test_stream_events_become_openai_chunks_with_the_same_usage() -> None:
    events = [
        {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "model": "claude",
                "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1},
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "lo"}},
        {"type": "content_block_stop", "index": 0},
        {
            "type": "content_block_start",
            "index": 1,
            "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
        },
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "input_json_delta", "partial_json": "1}"},
        },
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}},
        {"type": "message_stop"},
    ]
    translator = StreamTranslator()
    chunks = [c for e in events for c in translator.feed(e)]
    decoded = [msgspec.json.decode(c.data) for c in chunks]
    text = "".join(d["choices"][0]["delta"].get("content") or "" for d in decoded if d["choices"])
    assert text == "Hello"
    tool_parts = [
        d["choices"][0]["delta"]["tool_calls"][0]
        for d in decoded
        if d["choices"] and "tool_calls" in d["choices"][0]["delta"]
    ]
    assert tool_parts[0]["id"] == "toolu_1"
    assert "".join(p["function"]["arguments"] for p in tool_parts) == '{"a":1}'
    assert decoded[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1].usage_only
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 15
    assert chunks[-1].usage.completion_tokens == 9
    assert decoded[-1]["usage"]["prompt_tokens_details"]["cached_tokens"] == 5


def test_stream_error_event_raises() -> None:
    with pytest.raises(UpstreamStreamError):
        StreamTranslator().feed({"type": "error", "error": {"type": "overloaded_error"}})
