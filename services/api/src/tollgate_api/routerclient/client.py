"""aiohttp client for tollgate-router's ``POST /v1/chat/completions`` (JSON and SSE).

On the llm-call hot path, so it uses aiohttp (ADR 0002, PEERS.md: httpx's own pool is the ceiling
under concurrency): one ``ClientSession`` per process, created by the app lifespan (``start``) and
closed in its ``finally`` (``close``), with explicit timeouts (connect, socket read; no total for
streams) and connector limits.

What the router tells us about a call travels in its response headers (``x-tollgate-request-id``,
``-cost-micro-usd``, ``-model``, ``-deployment``, ``-attempts``, ``-cache``) and, for streams, in the
final usage chunk (``usage.cost_micro_usd``) or a trailing SSE comment
(``: x-tollgate-cost-micro-usd=N``). Those facts are internal: they go to the llm_call record,
never to the team.

Failures leave as :class:`RouterError` with a ``kind``; transport failures (``unreachable``,
``timeout``) are told apart from status failures (decided by the router's code). The job service maps
kinds to client-safe errors; the router's own message is kept only for logs and the call record.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, Literal

import aiohttp
import msgspec
import structlog

from tollgate_api.settings import RouterClientSettings
from tollgate_common.env import Secret

_log = structlog.get_logger("tollgate.routerclient")

ErrorKind = Literal[
    "rate_limited",
    "budget",
    "rejected",
    "auth",
    "upstream",
    "timeout",
    "unreachable",
    "unavailable",
    "invalid_response",
]

CHAT_PATH: Final = "/v1/chat/completions"
_COST_COMMENT: Final = "x-tollgate-cost-micro-usd="
_decode = msgspec.json.Decoder(dict[str, Any]).decode
_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class RouterMeta:
    """The router's account of one call (internal; never shown to teams)."""

    request_id: str | None = None
    model: str | None = None
    deployment: str | None = None
    attempts: int = 0
    cache: str | None = None
    cost_micro_usd: int = 0

    @property
    def cache_hit(self) -> bool:
        return self.cache == "hit"

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RouterMeta:
        return cls(
            request_id=headers.get("x-tollgate-request-id"),
            model=headers.get("x-tollgate-model"),
            deployment=headers.get("x-tollgate-deployment"),
            attempts=_int(headers.get("x-tollgate-attempts")),
            cache=headers.get("x-tollgate-cache"),
            cost_micro_usd=_int(headers.get("x-tollgate-cost-micro-usd")),
        )


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


class RouterError(Exception):
    """The router did not produce an answer. ``message`` is internal (may name a model)."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after_s: int | None = None,
        meta: RouterMeta | None = None,
    ) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind: ErrorKind = kind
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s
        self.meta = meta or RouterMeta()


def _kind_for_status(status: int) -> ErrorKind:
    if status == 429:
        return "rate_limited"
    if status == 402:
        return "budget"
    if status in (401, 403, 404):
        # our configuration (virtual key, model access, a model group pointing at an unknown router
        # model), not the team's request
        return "auth"
    if status in {408, 504}:
        return "timeout"
    if status == 503:
        # the router itself cannot serve right now (its Postgres or Redis is down, every deployment
        # cooling down): a clean 503 with its Retry-After, not an AI-service failure
        return "unavailable"
    if 400 <= status < 500:
        return "rejected"
    return "upstream"


def _retry_after(headers: Mapping[str, str]) -> int | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(1, round(float(raw)))
    except ValueError:
        return 1


def _error_message(raw: bytes) -> str:
    try:
        body = _decode(raw)
    except msgspec.DecodeError:
        return raw[:200].decode("utf-8", "replace")
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("message") or error.get("type") or "error")
    return str(body.get("detail") or body.get("title") or "error")


@dataclass(frozen=True, slots=True)
class RouterReply:
    body: dict[str, Any]
    meta: RouterMeta


@dataclass(slots=True)
class StreamEvent:
    """One parsed SSE chunk from the router (OpenAI chunk shape)."""

    content: str = ""
    finish_reason: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


class RouterClient:
    """The api's one connection pool to the router's data plane."""

    def __init__(self, settings: RouterClientSettings, *, max_connections: int = 256) -> None:
        self._settings = settings
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        self._url = settings.url.rstrip("/") + CHAT_PATH

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self._max_connections,
            limit_per_host=self._max_connections,
            keepalive_timeout=30,
            enable_cleanup_closed=True,
        )
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=self._settings.connect_timeout_s,
            sock_connect=self._settings.connect_timeout_s,
            sock_read=self._settings.read_timeout_s,
        )
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, raise_for_status=False, auto_decompress=True
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("RouterClient.start() was not called (the app lifespan owns it)")
        return self._session

    def _headers(self, virtual_key: Secret, request_id: str) -> dict[str, str]:
        return {
            "authorization": f"Bearer {virtual_key.get()}",
            "content-type": "application/json",
            "x-request-id": request_id,
        }

    async def chat(self, body: Mapping[str, Any], *, virtual_key: Secret, request_id: str) -> RouterReply:
        """One non-streamed chat completion. Raises :class:`RouterError`."""
        payload = {**body, "stream": False}
        try:
            async with self.session.post(
                self._url, data=_encode(payload), headers=self._headers(virtual_key, request_id)
            ) as resp:
                raw = await resp.read()
                meta = RouterMeta.from_headers(resp.headers)
                if resp.status != 200:
                    raise RouterError(
                        _kind_for_status(resp.status),
                        _error_message(raw),
                        status=resp.status,
                        retry_after_s=_retry_after(resp.headers),
                        meta=meta,
                    )
        except TimeoutError as exc:
            raise RouterError("timeout", "router read timed out") from exc
        except aiohttp.ClientError as exc:
            raise RouterError("unreachable", type(exc).__name__) from exc
        try:
            decoded = _decode(raw)
        except msgspec.DecodeError as exc:
            raise RouterError("invalid_response", "router answered non-JSON", meta=meta) from exc
        if not isinstance(decoded.get("choices"), list) or not decoded["choices"]:
            raise RouterError("invalid_response", "router answer has no choices", meta=meta)
        usage = decoded.get("usage")
        if meta.cost_micro_usd == 0 and isinstance(usage, dict) and "cost_micro_usd" in usage:
            meta = _with_cost(meta, _int(usage["cost_micro_usd"]))
        return RouterReply(body=decoded, meta=meta)

    def stream(self, body: Mapping[str, Any], *, virtual_key: Secret, request_id: str) -> RouterStream:
        """A streamed chat completion; use as ``async with client.stream(...) as s: async for ev in s``."""
        payload = {
            **body,
            "stream": True,
            "stream_options": {**dict(body.get("stream_options") or {}), "include_usage": True},
        }
        return RouterStream(self, payload, self._headers(virtual_key, request_id))


def _with_cost(meta: RouterMeta, cost: int) -> RouterMeta:
    return RouterMeta(
        request_id=meta.request_id,
        model=meta.model,
        deployment=meta.deployment,
        attempts=meta.attempts,
        cache=meta.cache,
        cost_micro_usd=cost,
    )


class RouterStream:
    """An open SSE response from the router. Leaving the ``async with`` early closes the connection,
    which stops the router's upstream call (client disconnect propagation).

    After iteration (complete or not): ``meta`` (cost updated from the usage chunk), ``usage``
    (the final usage object, or None when the stream ended before it), ``finish_reason``, ``text``.
    """

    def __init__(self, client: RouterClient, payload: dict[str, Any], headers: dict[str, str]) -> None:
        self._client = client
        self._payload = payload
        self._headers = headers
        self._resp: aiohttp.ClientResponse | None = None
        self.meta = RouterMeta()
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.parts: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.done = False

    @property
    def text(self) -> str:
        return "".join(self.parts)

    async def __aenter__(self) -> RouterStream:
        session = self._client.session
        try:
            resp = await session.post(self._client._url, data=_encode(self._payload), headers=self._headers)
        except TimeoutError as exc:
            raise RouterError("timeout", "router connect timed out") from exc
        except aiohttp.ClientError as exc:
            raise RouterError("unreachable", type(exc).__name__) from exc
        self.meta = RouterMeta.from_headers(resp.headers)
        if resp.status != 200:
            try:
                raw = await resp.read()
            except (aiohttp.ClientError, TimeoutError):
                raw = b""
            finally:
                resp.release()
            raise RouterError(
                _kind_for_status(resp.status),
                _error_message(raw),
                status=resp.status,
                retry_after_s=_retry_after(resp.headers),
                meta=self.meta,
            )
        self._resp = resp
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        resp, self._resp = self._resp, None
        if resp is None:
            return
        if self.done:
            resp.release()
        else:
            # Not read to the end (client gone, error): drop the connection so the router sees it.
            with contextlib.suppress(Exception):
                resp.close()

    def __aiter__(self) -> AsyncIterator[StreamEvent]:
        return self._events()

    async def _events(self) -> AsyncIterator[StreamEvent]:
        resp = self._resp
        if resp is None:
            raise RuntimeError("use RouterStream inside `async with`")
        try:
            async for raw_line in resp.content:
                event = self._line(raw_line.strip())
                if self.done:
                    return
                if event is not None:
                    yield event
        except TimeoutError as exc:
            raise RouterError("timeout", "router stream read timed out", meta=self.meta) from exc
        except aiohttp.ClientError as exc:
            raise RouterError("upstream", f"stream broken: {type(exc).__name__}", meta=self.meta) from exc
        # The body ended without [DONE]: a truncated stream.
        raise RouterError("upstream", "stream ended without [DONE]", meta=self.meta)

    def _line(self, line: bytes) -> StreamEvent | None:
        """One SSE line: a comment, a ``data:`` chunk, ``[DONE]`` (sets ``done``), or nothing."""
        if line.startswith(b":"):
            self._comment(line[1:].strip().decode("utf-8", "replace"))
            return None
        if not line.startswith(b"data:"):
            return None
        data = line[5:].strip()
        if data == b"[DONE]":
            self.done = True
            return None
        try:
            chunk = _decode(data)
        except msgspec.DecodeError as exc:
            raise RouterError("invalid_response", "undecodable stream chunk", meta=self.meta) from exc
        if "error" in chunk:
            err = chunk["error"]
            message = str(err.get("message", "error")) if isinstance(err, dict) else str(err)
            raise RouterError("upstream", message, meta=self.meta)
        return self._absorb(chunk)

    def _comment(self, text: str) -> None:
        if text.startswith(_COST_COMMENT):
            self.meta = _with_cost(self.meta, _int(text.removeprefix(_COST_COMMENT)))

    def _absorb(self, chunk: dict[str, Any]) -> StreamEvent | None:
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            self.usage = usage
            if "cost_micro_usd" in usage:
                self.meta = _with_cost(self.meta, _int(usage["cost_micro_usd"]))
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return None
        choice = choices[0] if isinstance(choices[0], dict) else {}
        delta = choice.get("delta") or {}
        event = StreamEvent()
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            event.content = content
            self.parts.append(content)
        raw_calls = delta.get("tool_calls") if isinstance(delta, dict) else None
        if isinstance(raw_calls, list):
            for item in raw_calls:
                if isinstance(item, dict):
                    self._merge_tool_call(item)
            event.tool_calls = [c for c in raw_calls if isinstance(c, dict)]
        finish = choice.get("finish_reason")
        if isinstance(finish, str):
            self.finish_reason = finish
            event.finish_reason = finish
        if not event.content and event.finish_reason is None and not event.tool_calls:
            return None
        return event

    def _merge_tool_call(self, item: dict[str, Any]) -> None:
        index = int(item.get("index", 0))
        current = self.tool_calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        if item.get("id"):
            current["id"] = item["id"]
        fn = item.get("function")
        if isinstance(fn, dict):
            if fn.get("name"):
                current["function"]["name"] += fn["name"]
            if fn.get("arguments"):
                current["function"]["arguments"] += fn["arguments"]

    def assembled_tool_calls(self) -> list[dict[str, Any]]:
        return [self.tool_calls[i] for i in sorted(self.tool_calls)]
