"""OpenAI and everything that speaks its wire format.

* ``openai``: api.openai.com (or ``base_url``), ``Authorization: Bearer``.
* ``openai_compatible``: any base URL (vLLM, Ollama, Groq, Together, OpenRouter...); the key is
  optional; ``settings.headers`` adds fixed headers (e.g. OpenRouter's ``HTTP-Referer``).
* ``azure_openai``: ``{base_url}/openai/deployments/{deployment}/chat/completions?api-version=…``
  with an ``api-key`` header; ``settings.azure_deployment`` (default: the upstream model) and
  ``settings.api_version``.

The upstream answer is passed through byte for byte (no re-encoding on the hot path); usage is read
with a typed partial decode. Streams always ask for ``stream_options.include_usage`` so streamed calls
are priced exactly like non-streamed ones.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, ClassVar

import msgspec

from tollgate_router.providers.base import (
    ChatResponse,
    EmbeddingResponse,
    Provider,
    StreamChunk,
    Target,
    Usage,
)
from tollgate_router.providers.errors import UpstreamBadResponse, UpstreamStreamError

__all__ = ["AzureOpenAIProvider", "OpenAICompatibleProvider", "OpenAIProvider", "usage_from_openai"]

_encode = msgspec.json.encode


class _PromptDetails(msgspec.Struct):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None  # Tollgate's own extension (see anthropic.py)


class _OAUsage(msgspec.Struct):
    prompt_tokens: int | None = 0
    completion_tokens: int | None = 0
    prompt_tokens_details: _PromptDetails | None = None


class _UsageProbe(msgspec.Struct):
    usage: _OAUsage | None = None


class _ChunkProbe(msgspec.Struct):
    choices: list[msgspec.Raw] = msgspec.field(default_factory=list)
    usage: _OAUsage | None = None
    error: msgspec.Raw | None = None


_decode_usage = msgspec.json.Decoder(_UsageProbe).decode
_decode_chunk = msgspec.json.Decoder(_ChunkProbe).decode


def usage_from_openai(usage: _OAUsage | None) -> Usage:
    if usage is None:
        return Usage()
    details = usage.prompt_tokens_details
    return Usage(
        prompt_tokens=usage.prompt_tokens or 0,
        completion_tokens=usage.completion_tokens or 0,
        cached_tokens=(details.cached_tokens or 0) if details else 0,
        cache_write_tokens=(details.cache_write_tokens or 0) if details else 0,
    )


class OpenAIProvider(Provider):
    kind: ClassVar[str] = "openai"
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"

    # ------------------------------------------------------------------ addressing
    def base(self, target: Target) -> str:
        return (target.base_url or self.default_base_url).rstrip("/")

    def url(self, target: Target, endpoint: str) -> str:
        return f"{self.base(target)}/{endpoint}"

    def headers(self, target: Target) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if target.api_key:
            headers["authorization"] = "Bearer " + target.api_key.get()
        extra = target.settings.get("headers")
        if isinstance(extra, Mapping):
            headers.update({str(k): str(v) for k, v in extra.items()})
        return headers

    def payload(self, target: Target, body: dict[str, Any]) -> dict[str, Any]:
        payload = dict(body)
        payload["model"] = target.upstream_model
        return payload

    # ------------------------------------------------------------------ calls
    async def chat(self, target: Target, body: dict[str, Any]) -> ChatResponse:
        payload = self.payload(target, body)
        payload.pop("stream", None)
        payload.pop("stream_options", None)
        raw = await self.post_json(
            target, self.url(target, "chat/completions"), self.headers(target), _encode(payload)
        )
        try:
            usage = usage_from_openai(_decode_usage(raw).usage)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamBadResponse("upstream sent a malformed completion") from exc
        return ChatResponse(body=raw, usage=usage)

    async def chat_stream(self, target: Target, body: dict[str, Any]) -> AsyncGenerator[StreamChunk, None]:
        payload = self.payload(target, body)
        payload["stream"] = True
        options = dict(payload.get("stream_options") or {})
        options["include_usage"] = True
        payload["stream_options"] = options
        done = False
        async for data in self.post_sse(
            target, self.url(target, "chat/completions"), self.headers(target), _encode(payload)
        ):
            if data == b"[DONE]":
                done = True
                break
            try:
                probe = _decode_chunk(data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise UpstreamBadResponse("upstream sent a malformed chunk") from exc
            if probe.error is not None:
                raise UpstreamStreamError("upstream reported an error inside the stream")
            if probe.usage is not None:
                yield StreamChunk(
                    data=data, usage=usage_from_openai(probe.usage), usage_only=not probe.choices
                )
            else:
                yield StreamChunk(data=data)
        if not done:
            raise UpstreamBadResponse("upstream stream ended without [DONE]")

    async def embeddings(self, target: Target, body: dict[str, Any]) -> EmbeddingResponse:
        raw = await self.post_json(
            target,
            self.url(target, "embeddings"),
            self.headers(target),
            _encode(self.payload(target, body)),
        )
        try:
            usage = usage_from_openai(_decode_usage(raw).usage)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise UpstreamBadResponse("upstream sent a malformed embeddings answer") from exc
        return EmbeddingResponse(body=raw, usage=Usage(prompt_tokens=usage.prompt_tokens))


class OpenAICompatibleProvider(OpenAIProvider):
    """Any OpenAI-compatible server: vLLM, Ollama, Groq, Together, OpenRouter..."""

    kind: ClassVar[str] = "openai_compatible"
    default_base_url: ClassVar[str] = "http://127.0.0.1:8000/v1"


class AzureOpenAIProvider(OpenAIProvider):
    kind: ClassVar[str] = "azure_openai"
    default_api_version: ClassVar[str] = "2024-10-21"

    def url(self, target: Target, endpoint: str) -> str:
        if not target.base_url:
            raise UpstreamBadResponse("an azure_openai deployment needs a base_url (the resource endpoint)")
        deployment = str(target.settings.get("azure_deployment") or target.upstream_model)
        version = str(target.settings.get("api_version") or self.default_api_version)
        return (
            f"{target.base_url.rstrip('/')}/openai/deployments/{deployment}/{endpoint}?api-version={version}"
        )

    def headers(self, target: Target) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if target.api_key:
            headers["api-key"] = target.api_key.get()
        return headers
