"""The built-in ``mock`` provider: no network, no key. The demo and the docs use it.

Deterministic: the reply is derived from the last user message (``settings.reply`` overrides it), and
tokens are ``max(1, ceil(chars / 4))`` of the prompt text and of the reply (the same rule as the test
fakes). Deployment ``settings``: ``latency_ms`` (sleep before answering), ``failure_rate`` (0..1: that
share of calls fail with a 500, to demo retries and fallbacks), ``reply``, ``dimensions`` (embeddings).
"""

from __future__ import annotations

import hashlib
import math
import random
import struct
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, ClassVar

import msgspec

from tollgate_router.providers.base import (
    ChatResponse,
    EmbeddingResponse,
    Provider,
    StreamChunk,
    Target,
    Usage,
    sleep_ms,
)
from tollgate_router.providers.errors import UpstreamStatus

__all__ = ["MockProvider", "estimate_tokens"]

_encode = msgspec.json.encode


def estimate_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _prompt_text(messages: Sequence[Any]) -> str:
    return "".join(_text(m.get("content")) for m in messages if isinstance(m, Mapping))


def _last_user(messages: Sequence[Any]) -> str:
    for m in reversed(messages):
        if isinstance(m, Mapping) and m.get("role") == "user":
            return _text(m.get("content"))
    return ""


class MockProvider(Provider):
    kind: ClassVar[str] = "mock"

    async def _behave(self, target: Target) -> None:
        await sleep_ms(float(target.settings.get("latency_ms") or 0))
        rate = float(target.settings.get("failure_rate") or 0)
        if rate > 0 and random.random() < rate:  # noqa: S311 - a demo knob, not security
            raise UpstreamStatus(500, "mock failure (failure_rate)")

    def _answer(self, target: Target, body: Mapping[str, Any]) -> tuple[str, Usage, str]:
        messages = body.get("messages") or []
        reply = str(target.settings.get("reply") or "")
        if not reply:
            last = _last_user(messages)
            digest = hashlib.sha256(last.encode()).hexdigest()[:8]
            reply = f"Mock answer {digest} to: {last[:60]}"
        finish = "stop"
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        completion_tokens = estimate_tokens(reply)
        if isinstance(max_tokens, int) and 0 < max_tokens < completion_tokens:
            reply, completion_tokens, finish = reply[: max_tokens * 4], max_tokens, "length"
        usage = Usage(
            prompt_tokens=estimate_tokens(_prompt_text(messages)), completion_tokens=completion_tokens
        )
        return reply, usage, finish

    @staticmethod
    def _usage_json(usage: Usage) -> dict[str, Any]:
        return {
            "prompt_tokens": usage.prompt_tokens,
            "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
        }

    async def chat(self, target: Target, body: dict[str, Any]) -> ChatResponse:
        await self._behave(target)
        reply, usage, finish = self._answer(target, body)
        completion = {
            "id": "chatcmpl-mock" + hashlib.sha256(reply.encode()).hexdigest()[:16],
            "object": "chat.completion",
            "created": int(time.time()),
            "model": target.upstream_model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            ],
            "usage": self._usage_json(usage),
        }
        return ChatResponse(body=_encode(completion), usage=usage)

    async def chat_stream(self, target: Target, body: dict[str, Any]) -> AsyncGenerator[StreamChunk, None]:
        await self._behave(target)
        reply, usage, finish = self._answer(target, body)
        base = {
            "id": "chatcmpl-mock" + hashlib.sha256(reply.encode()).hexdigest()[:16],
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": target.upstream_model,
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return _encode({**base, "choices": [choice]})

        yield StreamChunk(chunk({"role": "assistant", "content": ""}))
        words = reply.split(" ")
        for i, word in enumerate(words):
            yield StreamChunk(chunk({"content": word if i == 0 else " " + word}))
        yield StreamChunk(chunk({}, finish))
        yield StreamChunk(
            _encode({**base, "choices": [], "usage": self._usage_json(usage)}), usage=usage, usage_only=True
        )

    async def embeddings(self, target: Target, body: dict[str, Any]) -> EmbeddingResponse:
        await self._behave(target)
        raw = body.get("input")
        items: list[Any] = [raw] if isinstance(raw, str) else list(raw or [])
        dims = int(target.settings.get("dimensions") or 8)
        data, tokens = [], 0
        for index, item in enumerate(items):
            text = item if isinstance(item, str) else ",".join(map(str, item))
            tokens += estimate_tokens(text)
            digest = hashlib.shake_256(text.encode()).digest(4 * dims)
            values = [v / 0xFFFFFFFF * 2 - 1 for v in struct.unpack(f"<{dims}I", digest)]
            norm = math.sqrt(sum(v * v for v in values)) or 1.0
            data.append({"object": "embedding", "index": index, "embedding": [v / norm for v in values]})
        usage = Usage(prompt_tokens=tokens)
        answer = {
            "object": "list",
            "data": data,
            "model": target.upstream_model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
        return EmbeddingResponse(body=_encode(answer), usage=usage)
