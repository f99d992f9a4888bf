"""Anthropic's Messages API behind OpenAI's wire format.

Request (OpenAI → Anthropic):
* ``system``/``developer`` messages → the top-level ``system`` (text blocks, ``cache_control`` kept);
* content parts → content blocks (``text``; ``image_url`` data URLs → base64 ``image``, others → url);
* assistant ``tool_calls`` → ``tool_use`` blocks; ``tool`` messages → ``tool_result`` blocks in a user
  turn (consecutive same-role turns are merged, as the API wants alternation);
* ``tools`` → ``{name, description, input_schema}``; ``tool_choice`` auto/none/required/named →
  auto/none/any/tool; ``parallel_tool_calls: false`` → ``disable_parallel_tool_use``;
* ``max_tokens``/``max_completion_tokens`` (required upstream; default ``settings.max_tokens`` or 4096),
  ``temperature``, ``top_p``, ``stop`` → ``stop_sequences``, ``user`` → ``metadata.user_id``;
  ``response_format`` json → an instruction appended to the system prompt.

Response (Anthropic → OpenAI): text blocks → ``message.content``; ``tool_use`` → ``tool_calls``; stop
reasons ``end_turn``/``stop_sequence``/``pause_turn`` → ``stop``, ``max_tokens`` → ``length``,
``tool_use`` → ``tool_calls``, ``refusal`` → ``content_filter``. Usage: ``prompt_tokens`` =
``input_tokens + cache_read_input_tokens + cache_creation_input_tokens``, with
``prompt_tokens_details.cached_tokens`` (cache reads) and ``prompt_tokens_details.cache_write_tokens``
(cache writes; a Tollgate extension). Streaming events become ``chat.completion.chunk`` objects; the
final usage chunk carries the same usage as the non-streamed answer.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any, ClassVar

import msgspec

from tollgate_router.providers.base import (
    ChatResponse,
    EmbeddingResponse,
    Provider,
    StreamChunk,
    Target,
    Usage,
    decode_object,
)
from tollgate_router.providers.errors import (
    UnsupportedRequest,
    UpstreamBadResponse,
    UpstreamStreamError,
)

__all__ = ["AnthropicProvider", "to_anthropic_request", "to_openai_response"]

_encode = msgspec.json.encode

STOP_REASONS: dict[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
DEFAULT_MAX_TOKENS = 4096
JSON_INSTRUCTION = "Respond with a single valid JSON object and nothing else."


# ---------------------------------------------------------------------- request translation
def _text_block(part: Mapping[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": str(part.get("text", ""))}
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _image_block(part: Mapping[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url", "") if isinstance(image, Mapping) else str(image or "")
    if url.startswith("data:") and ";base64," in url:
        media_type, _, data = url[5:].partition(";base64,")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _blocks(content: Any) -> list[dict[str, Any]]:
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else []:
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text":
            blocks.append(_text_block(part))
        elif kind == "image_url":
            blocks.append(_image_block(part))
    return blocks


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in _blocks(content) if b["type"] == "text")


def _tool_arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if not raw:
        return {}
    try:
        value = msgspec.json.decode(str(raw).encode())
    except msgspec.DecodeError:
        return {"_raw": str(raw)}
    return value if isinstance(value, dict) else {"_value": value}


def _message_turn(message: Mapping[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    role = message.get("role")
    if role == "tool":
        block = {
            "type": "tool_result",
            "tool_use_id": str(message.get("tool_call_id", "")),
            "content": _content_text(message.get("content")),
        }
        return "user", [block]
    if role == "assistant":
        blocks = _blocks(message.get("content"))
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            blocks.append(
                {
                    "type": "tool_use",
                    "id": str(call.get("id", "")),
                    "name": str(function.get("name", "")),
                    "input": _tool_arguments(function.get("arguments")),
                }
            )
        return "assistant", blocks
    return "user", _blocks(message.get("content"))


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    result: dict[str, Any] | None
    if choice is None:
        result = None
    elif choice == "auto":
        result = {"type": "auto"}
    elif choice == "none":
        result = {"type": "none"}
    elif choice == "required":
        result = {"type": "any"}
    elif isinstance(choice, Mapping):
        function = choice.get("function") or {}
        result = {"type": "tool", "name": str(function.get("name", ""))}
    else:
        raise UnsupportedRequest(f"unsupported tool_choice {choice!r}")
    if parallel is False:
        result = result or {"type": "auto"}
        if result["type"] != "none":
            result["disable_parallel_tool_use"] = True
    return result


def _system_and_turns(body: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in body.get("messages") or ():
        if not isinstance(message, Mapping):
            continue
        if message.get("role") in ("system", "developer"):
            system.extend(_blocks(message.get("content")))
            continue
        role, blocks = _message_turn(message)
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") in ("json_object", "json_schema"):
        instruction = JSON_INSTRUCTION
        schema = (response_format.get("json_schema") or {}).get("schema")
        if schema is not None:
            instruction += " It must match this JSON schema: " + _encode(schema).decode()
        system.append({"type": "text", "text": instruction})
    return system, turns


def _tools(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": str(fn.get("name", "")),
            **({"description": fn["description"]} if fn.get("description") else {}),
            "input_schema": fn.get("parameters") or {"type": "object", "properties": {}},
        }
        for fn in (t.get("function") or {} for t in body.get("tools") or () if isinstance(t, Mapping))
    ]


def to_anthropic_request(
    body: Mapping[str, Any], *, model: str, default_max_tokens: int = DEFAULT_MAX_TOKENS
) -> dict[str, Any]:
    """An OpenAI chat request as an Anthropic Messages request (pure; see the module docstring)."""
    if (body.get("n") or 1) != 1:
        raise UnsupportedRequest("Anthropic deployments answer n=1 only")
    system, turns = _system_and_turns(body)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or default_max_tokens
    request: dict[str, Any] = {"model": model, "max_tokens": int(max_tokens), "messages": turns}
    if system:
        plain = all(set(b) == {"type", "text"} for b in system)
        request["system"] = "\n\n".join(b["text"] for b in system) if plain else system
    for name in ("temperature", "top_p"):
        if body.get(name) is not None:
            request[name] = body[name]
    stop = body.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("user"):
        request["metadata"] = {"user_id": str(body["user"])}
    if body.get("tools"):
        request["tools"] = _tools(body)
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            request["tool_choice"] = choice
    return request


# ---------------------------------------------------------------------- response translation
def usage_from_anthropic(usage: Mapping[str, Any] | None) -> Usage:
    usage = usage or {}
    cached = int(usage.get("cache_read_input_tokens") or 0)
    written = int(usage.get("cache_creation_input_tokens") or 0)
    return Usage(
        prompt_tokens=int(usage.get("input_tokens") or 0) + cached + written,
        completion_tokens=int(usage.get("output_tokens") or 0),
        cached_tokens=cached,
        cache_write_tokens=written,
    )


def openai_usage(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "prompt_tokens_details": {
            "cached_tokens": usage.cached_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
    }


def _tool_call(block: Mapping[str, Any], index: int | None = None) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": str(block.get("id", "")),
        "type": "function",
        "function": {
            "name": str(block.get("name", "")),
            "arguments": _encode(block.get("input") or {}).decode(),
        },
    }
    if index is not None:
        call = {"index": index, **call}
    return call


def to_openai_response(
    message: Mapping[str, Any], *, created: int | None = None
) -> tuple[dict[str, Any], Usage]:
    """An Anthropic ``message`` as an OpenAI ``chat.completion`` object, with normalized usage."""
    blocks: Sequence[Mapping[str, Any]] = message.get("content") or ()
    text = "".join(str(b.get("text", "")) for b in blocks if b.get("type") == "text")
    calls = [_tool_call(b) for b in blocks if b.get("type") == "tool_use"]
    usage = usage_from_anthropic(message.get("usage"))
    reply: dict[str, Any] = {"role": "assistant", "content": text if (text or not calls) else None}
    if calls:
        reply["tool_calls"] = calls
    completion = {
        "id": "chatcmpl-" + str(message.get("id", "")),
        "object": "chat.completion",
        "created": created or int(time.time()),
        "model": str(message.get("model", "")),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": STOP_REASONS.get(str(message.get("stop_reason")), "stop"),
            }
        ],
        "usage": openai_usage(usage),
    }
    return completion, usage


class StreamTranslator:
    """Anthropic stream events → OpenAI chunks (one translator per stream)."""

    def __init__(self, *, created: int | None = None) -> None:
        self.id = "chatcmpl-"
        self.model = ""
        self.created = created or int(time.time())
        self.start_usage: dict[str, Any] = {}
        self.output_tokens = 0
        self.finish_reason: str | None = None
        self.tool_index = -1
        self.block_is_tool: dict[int, int] = {}
        self.finished = False

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        return _encode(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
        )

    def usage(self) -> Usage:
        merged = dict(self.start_usage)
        merged["output_tokens"] = self.output_tokens
        return usage_from_anthropic(merged)

    def feed(self, event: Mapping[str, Any]) -> list[StreamChunk]:
        kind = event.get("type")
        if kind == "error":
            raise UpstreamStreamError("upstream reported an error inside the stream")
        handler = self._handlers.get(str(kind))
        return handler(self, event) if handler else []  # ping, content_block_stop, future events

    def _message_start(self, event: Mapping[str, Any]) -> list[StreamChunk]:
        message = event.get("message") or {}
        self.id = "chatcmpl-" + str(message.get("id", ""))
        self.model = str(message.get("model", ""))
        self.start_usage = dict(message.get("usage") or {})
        self.output_tokens = int(self.start_usage.get("output_tokens") or 0)
        return [StreamChunk(self._chunk({"role": "assistant", "content": ""}))]

    def _block_start(self, event: Mapping[str, Any]) -> list[StreamChunk]:
        block = event.get("content_block") or {}
        if block.get("type") == "tool_use":
            self.tool_index += 1
            self.block_is_tool[int(event.get("index", 0))] = self.tool_index
            call = _tool_call({**block, "input": {}}, self.tool_index)
            call["function"]["arguments"] = ""
            return [StreamChunk(self._chunk({"tool_calls": [call]}))]
        if block.get("type") == "text" and block.get("text"):
            return [StreamChunk(self._chunk({"content": block["text"]}))]
        return []

    def _block_delta(self, event: Mapping[str, Any]) -> list[StreamChunk]:
        delta = event.get("delta") or {}
        if delta.get("type") == "text_delta":
            return [StreamChunk(self._chunk({"content": str(delta.get("text", ""))}))]
        if delta.get("type") == "input_json_delta":
            index = self.block_is_tool.get(int(event.get("index", 0)), max(self.tool_index, 0))
            part = {"index": index, "function": {"arguments": str(delta.get("partial_json", ""))}}
            return [StreamChunk(self._chunk({"tool_calls": [part]}))]
        return []

    def _message_delta(self, event: Mapping[str, Any]) -> list[StreamChunk]:
        delta = event.get("delta") or {}
        if delta.get("stop_reason"):
            self.finish_reason = STOP_REASONS.get(str(delta["stop_reason"]), "stop")
        usage = event.get("usage") or {}
        if usage.get("output_tokens") is not None:
            self.output_tokens = int(usage["output_tokens"])
        for name in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"):
            if usage.get(name) is not None:
                self.start_usage[name] = usage[name]
        return []

    def _message_stop(self, event: Mapping[str, Any]) -> list[StreamChunk]:
        self.finished = True
        usage = self.usage()
        final = _encode(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": openai_usage(usage),
            }
        )
        return [
            StreamChunk(self._chunk({}, self.finish_reason or "stop")),
            StreamChunk(final, usage=usage, usage_only=True),
        ]

    _handlers: ClassVar[dict[str, Callable[[StreamTranslator, Mapping[str, Any]], list[StreamChunk]]]] = {
        "message_start": _message_start,
        "content_block_start": _block_start,
        "content_block_delta": _block_delta,
        "message_delta": _message_delta,
        "message_stop": _message_stop,
    }


class AnthropicProvider(Provider):
    kind: ClassVar[str] = "anthropic"
    default_base_url: ClassVar[str] = "https://api.anthropic.com"
    default_version: ClassVar[str] = "2023-06-01"

    def _url(self, target: Target) -> str:
        return (target.base_url or self.default_base_url).rstrip("/") + "/v1/messages"

    def _headers(self, target: Target) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "anthropic-version": str(target.settings.get("anthropic_version") or self.default_version),
        }
        if target.api_key:
            headers["x-api-key"] = target.api_key.get()
        beta = target.settings.get("anthropic_beta")
        if beta:
            headers["anthropic-beta"] = str(beta)
        return headers

    def _request(self, target: Target, body: Mapping[str, Any]) -> dict[str, Any]:
        default_max = int(target.settings.get("max_tokens") or DEFAULT_MAX_TOKENS)
        return to_anthropic_request(body, model=target.upstream_model, default_max_tokens=default_max)

    async def chat(self, target: Target, body: dict[str, Any]) -> ChatResponse:
        request = self._request(target, body)
        raw = await self.post_json(target, self._url(target), self._headers(target), _encode(request))
        completion, usage = to_openai_response(decode_object(raw))
        return ChatResponse(body=_encode(completion), usage=usage)

    async def chat_stream(self, target: Target, body: dict[str, Any]) -> AsyncGenerator[StreamChunk, None]:
        request = self._request(target, body)
        request["stream"] = True
        translator = StreamTranslator()
        async for data in self.post_sse(target, self._url(target), self._headers(target), _encode(request)):
            for chunk in translator.feed(decode_object(data)):
                yield chunk
            if translator.finished:
                return
        raise UpstreamBadResponse("upstream stream ended without message_stop")

    async def embeddings(self, target: Target, body: dict[str, Any]) -> EmbeddingResponse:
        raise UnsupportedRequest("Anthropic has no embeddings endpoint")
