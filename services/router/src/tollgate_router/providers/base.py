"""The provider interface: one small abstract class, OpenAI's wire format on the caller's side.

A provider turns an OpenAI-shaped request (a ``dict`` decoded from the caller's JSON) into its own
upstream call and answers in OpenAI's shape again:

* :meth:`Provider.chat` → :class:`ChatResponse` (the ``chat.completion`` JSON and normalized usage);
* :meth:`Provider.chat_stream` → async iterator of :class:`StreamChunk` (each the JSON of one
  ``chat.completion.chunk``; the chunk carrying usage has ``usage`` set). Providers always ask their
  upstream for usage in streams, so a streamed call is priced exactly like a non-streamed one;
* :meth:`Provider.embeddings` → :class:`EmbeddingResponse`.

Failures leave as :mod:`tollgate_router.providers.errors`. Every provider shares the process's one
:class:`~tollgate_router.providers.http.UpstreamClient` (its pool and connect timeout); the read timeout
is the deployment's ``timeout_s`` on every call. Adding a provider is one module that
subclasses :class:`Provider` and one line in :mod:`tollgate_router.providers.registry`.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol
from uuid import UUID

import msgspec

from tollgate_common.env import Secret
from tollgate_router.providers.errors import UpstreamBadResponse, UpstreamStatus
from tollgate_router.providers.http import UpstreamClient

__all__ = [
    "ChatResponse",
    "EmbeddingResponse",
    "Provider",
    "StreamChunk",
    "Target",
    "Usage",
]


class Usage(msgspec.Struct, frozen=True):
    """Token usage, normalized. ``prompt_tokens`` is the WHOLE prompt: cached and cache-written
    tokens included (OpenAI's convention; Anthropic's ``input_tokens`` excludes them)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


ZERO_USAGE = Usage()


class Target(Protocol):
    """What a provider needs to know of a deployment (``catalog.Deployment`` satisfies it)."""

    @property
    def id(self) -> UUID: ...
    @property
    def base_url(self) -> str | None: ...
    @property
    def api_key(self) -> Secret | None: ...
    @property
    def upstream_model(self) -> str: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def settings(self) -> Mapping[str, Any]: ...


@dataclass(slots=True)
class ChatResponse:
    body: bytes  # an OpenAI ``chat.completion`` object, JSON
    usage: Usage


@dataclass(slots=True)
class EmbeddingResponse:
    body: bytes  # an OpenAI embeddings ``list`` object, JSON
    usage: Usage


@dataclass(slots=True)
class StreamChunk:
    data: bytes  # the JSON of one OpenAI ``chat.completion.chunk`` (no ``data: `` framing)
    usage: Usage | None = None  # set on the chunk that reports usage
    usage_only: bool = False  # the final ``choices: []`` chunk that exists only to carry usage


class Provider(ABC):
    """One upstream API. Instances are shared by all requests of a process (no per-call state)."""

    kind: ClassVar[str]

    def __init__(self, client: UpstreamClient, *, max_read_timeout_s: float = 120.0) -> None:
        self.client = client  # applies the connect timeout itself
        self.max_read_timeout_s = max_read_timeout_s  # TOLLGATE_ROUTER_UPSTREAM_READ_TIMEOUT_S

    def read_timeout_for(self, target: Target) -> float:
        """The deployment's ``timeout_s``, capped by the router-wide upstream read timeout."""
        return min(float(target.timeout_s), self.max_read_timeout_s)

    @abstractmethod
    async def chat(self, target: Target, body: dict[str, Any]) -> ChatResponse: ...

    @abstractmethod
    def chat_stream(self, target: Target, body: dict[str, Any]) -> AsyncGenerator[StreamChunk, None]: ...

    @abstractmethod
    async def embeddings(self, target: Target, body: dict[str, Any]) -> EmbeddingResponse: ...

    # ------------------------------------------------------------------ shared HTTP plumbing
    async def post_json(self, target: Target, url: str, headers: Mapping[str, str], payload: bytes) -> bytes:
        """POST and return the 2xx body; any failure as a ProviderError (the client raises the
        transport ones: UpstreamTimedOut, UpstreamUnreachable, UpstreamBadResponse)."""
        response = await self.client.post(url, headers, payload, read_timeout_s=self.read_timeout_for(target))
        if response.status >= 300:
            raise status_error(response.status, response.headers, response.body)
        return response.body

    async def post_sse(
        self, target: Target, url: str, headers: Mapping[str, str], payload: bytes
    ) -> AsyncGenerator[bytes, None]:
        """POST and yield the ``data`` of each server-sent event; failures as ProviderError.

        Lines end at LF (a CR before it is dropped) and may be split across chunks; an event's
        ``data:`` lines are joined by LF; a blank line ends an event; a last event without its blank
        line is still delivered at the end of the body. Other fields are ignored.
        """
        async with self.client.stream(
            url, headers, payload, read_timeout_s=self.read_timeout_for(target)
        ) as response:
            if response.status >= 300:
                raise status_error(response.status, response.headers, await response.read())
            data: list[bytes] = []
            rest = b""
            async for chunk in response.iter_chunks():
                lines = (rest + chunk if rest else chunk).split(b"\n")
                rest = lines.pop()
                for raw in lines:
                    line = raw.rstrip(b"\r")
                    if not line:
                        if data:
                            yield data[0] if len(data) == 1 else b"\n".join(data)
                            data = []
                    elif line.startswith(b"data:"):
                        data.append(line[5:].lstrip(b" "))
            line = rest.rstrip(b"\r")
            if line.startswith(b"data:"):
                data.append(line[5:].lstrip(b" "))
            if data:
                yield data[0] if len(data) == 1 else b"\n".join(data)


class _OpenAIErrorProbe(msgspec.Struct):
    message: str = ""


class _ErrorEnvelope(msgspec.Struct):
    error: _OpenAIErrorProbe | str | None = None


_decode_error = msgspec.json.Decoder(_ErrorEnvelope).decode


def error_message(body: bytes) -> str:
    """The ``error.message`` of an OpenAI- or Anthropic-shaped error body, if any."""
    try:
        envelope = _decode_error(body)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return ""
    if isinstance(envelope.error, str):
        return envelope.error[:500]
    return envelope.error.message[:500] if envelope.error else ""


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def status_error(status: int, headers: Mapping[str, str], body: bytes) -> UpstreamStatus:
    return UpstreamStatus(status, error_message(body), retry_after_s=parse_retry_after(headers))


def decode_object(data: bytes) -> dict[str, Any]:
    try:
        value = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise UpstreamBadResponse("upstream sent malformed JSON") from exc
    if not isinstance(value, dict):
        raise UpstreamBadResponse("upstream sent JSON that is not an object")
    return value


async def sleep_ms(ms: float) -> None:
    if ms > 0:
        await asyncio.sleep(ms / 1000)
