"""Data-plane request shapes. Bodies stay ``dict``s (unknown OpenAI fields pass through to the
provider untouched); only what the gateway itself needs is checked and extracted here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from tollgate_router.errors import InvalidRequest

__all__ = ["ChatRequest", "EmbeddingRequest", "parse_chat", "parse_embeddings"]

# Completion tokens assumed for the budget reservation when the caller sets no max_tokens.
DEFAULT_COMPLETION_ESTIMATE: Final = 256

_decode = msgspec.json.decode


@dataclass(slots=True)
class ChatRequest:
    body: dict[str, Any]  # what goes upstream (and into the cache key): Tollgate's own fields removed
    model: str
    stream: bool
    include_usage: bool
    no_store: bool
    prompt_tokens_estimate: int
    max_completion_tokens: int | None


@dataclass(slots=True)
class EmbeddingRequest:
    body: dict[str, Any]
    model: str
    prompt_tokens_estimate: int


def _object(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidRequest("The request body is empty; send a JSON object.")
    try:
        body = _decode(raw)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):  # too deep / bad UTF-8: were 500s
        raise InvalidRequest("We could not parse the JSON body of your request.") from None
    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return body


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("you must provide a model parameter", extra={"param": "model"})
    return model


def _text_len(content: Any) -> int:
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(len(p.get("text") or "") for p in content if isinstance(p, dict))
    return 0


def _tokens(chars: int) -> int:
    return max(1, -(-chars // 4))


def parse_chat(raw: bytes, *, no_store_header: bool = False) -> ChatRequest:
    body = _object(raw)
    model = _model(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("Missing required parameter: 'messages'.", extra={"param": "messages"})
    for message in messages:
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise InvalidRequest("Each message must be an object with a 'role'.", extra={"param": "messages"})
    stream = body.get("stream") is True
    options = body.get("stream_options")
    if options is not None and not stream:
        raise InvalidRequest(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            extra={"param": "stream_options"},
        )
    include_usage = bool(isinstance(options, dict) and options.get("include_usage"))
    n = body.get("n")
    if n is not None and (not isinstance(n, int) or n < 1 or n > 8):
        raise InvalidRequest("'n' must be an integer from 1 to 8.", extra={"param": "n"})
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidRequest("'max_tokens' must be a positive integer.", extra={"param": "max_tokens"})
    no_store = no_store_header
    cache_opts = body.pop("cache", None)
    if isinstance(cache_opts, dict) and cache_opts.get("no-store"):
        no_store = True
    chars = sum(_text_len(m.get("content")) for m in messages)
    if body.get("tools"):
        chars += len(msgspec.json.encode(body["tools"]))
    return ChatRequest(
        body=body,
        model=model,
        stream=stream,
        include_usage=include_usage,
        no_store=no_store,
        prompt_tokens_estimate=_tokens(chars) * (n or 1),
        max_completion_tokens=max_tokens,
    )


def parse_embeddings(raw: bytes) -> EmbeddingRequest:
    body = _object(raw)
    model = _model(body)
    value = body.get("input")
    if value is None or value in ("", []):
        raise InvalidRequest("Missing required parameter: 'input'.", extra={"param": "input"})
    if isinstance(value, str):
        chars = len(value)
    elif isinstance(value, list):
        chars = sum(len(v) if isinstance(v, str | list) else 1 for v in value) * (
            1 if all(isinstance(v, str) for v in value) else 4
        )
    else:
        raise InvalidRequest("'input' must be a string or an array.", extra={"param": "input"})
    return EmbeddingRequest(body=body, model=model, prompt_tokens_estimate=_tokens(chars))
