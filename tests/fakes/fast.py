"""Fast mode: the benchmark upstream. A fixed answer per (endpoint, model, stream) precomputed once.

The answer is rendered by the same code as the scripted fakes (so the wire format is identical) and
cached as the complete HTTP response bytes; a request then costs a head parse, a small msgspec decode
and one `transport.write`. No request log, no behavior queue, no per-request token math.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

import msgspec

from tests.fakes._anthropic import FakeAnthropic
from tests.fakes._http import Connection, HttpRequest, build_head, build_response
from tests.fakes._openai import FakeOpenAI
from tests.fakes._server import FakeServer
from tests.fakes.behavior import Behavior

__all__ = ["FastApp", "FastFake"]

_CACHE_MAX = 1024
_JSON = [("content-type", "application/json")]


class _Probe(msgspec.Struct):
    model: str = ""
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    input: Any = None
    dimensions: int | None = None
    encoding_format: str | None = None


_decode_probe = msgspec.json.Decoder(_Probe).decode


class FastApp:
    """A `Connection` handler answering every call with the same precomputed response.

    Usage is fixed (`prompt_tokens`, `completion_tokens` = tokens of `content`), not derived from
    the request. `latency_s` delays each answer (before the head); `chunk_delay_s` spaces SSE events.
    """

    def __init__(
        self,
        kind: str,
        *,
        content: str = "Hello from the fast fake provider.",
        prompt_tokens: int = 12,
        n_chunks: int = 4,
        api_key: str | None = None,
        latency_s: float = 0.0,
        chunk_delay_s: float = 0.0,
    ) -> None:
        if kind not in ("openai", "anthropic"):
            raise ValueError(f"unknown kind {kind!r}")
        self.kind = kind
        self.api_key = api_key
        self.latency_s = latency_s
        self.chunk_delay_s = chunk_delay_s
        self._behavior = Behavior(content=content, prompt_tokens=prompt_tokens, n_chunks=n_chunks)
        # Unstarted fakes used only as renderers of the wire format.
        self._openai = FakeOpenAI(api_key=api_key)
        self._anthropic = FakeAnthropic(api_key=api_key)
        self._cache: dict[tuple[Any, ...], tuple[bytes, list[bytes] | None]] = {}
        self._not_found = build_response(
            404, _JSON, b'{"error":{"message":"not found","type":"invalid_request_error"}}'
        )
        self._bad_json = build_response(
            400, _JSON, b'{"error":{"message":"invalid JSON body","type":"invalid_request_error"}}'
        )
        if kind == "openai":
            self._unauthorized = build_response(
                401,
                _JSON,
                (
                    b'{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error",'
                    b'"param":null,"code":"invalid_api_key"}}'
                ),
            )
        else:
            self._unauthorized = build_response(
                401,
                _JSON,
                (b'{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}'),
            )

    # ------------------------------------------------------------------ handler
    def __call__(self, request: HttpRequest, conn: Connection) -> bytes | Coroutine[Any, Any, None]:
        path = request.path
        if self.api_key is not None and not self._authorized(request):
            return self._unauthorized
        if request.method == "GET" and path in ("/v1/models", "/models"):
            return self._static(("models",), request)
        if request.method != "POST":
            return self._not_found
        if self.kind == "openai":
            if path.endswith("/chat/completions"):
                endpoint = "chat"
            elif path.endswith("/embeddings"):
                endpoint = "embeddings"
            else:
                return self._not_found
        elif path == "/v1/messages":
            endpoint = "messages"
        else:
            return self._not_found
        try:
            probe = _decode_probe(request.body)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return self._bad_json
        if endpoint == "embeddings":
            count = (
                len(probe.input)
                if isinstance(probe.input, list) and probe.input and not isinstance(probe.input[0], int)
                else 1
            )
            key: tuple[Any, ...] = (endpoint, probe.model, count, probe.dimensions, probe.encoding_format)
        else:
            include_usage = bool(probe.stream_options and probe.stream_options.get("include_usage"))
            key = (endpoint, probe.model, probe.stream, include_usage)
        entry = self._cache.get(key)
        if entry is None:
            entry = self._render(key, probe)
        whole, pieces = entry
        if not request.keep_alive:
            return self._with_close(whole)
        if self.latency_s <= 0 and (pieces is None or self.chunk_delay_s <= 0):
            return whole
        return self._slow(conn, whole, pieces)

    def _authorized(self, request: HttpRequest) -> bool:
        headers = request.headers
        bearer = "Bearer " + (self.api_key or "")
        if self.kind == "openai":
            return headers.get("authorization") == bearer or headers.get("api-key") == self.api_key
        return headers.get("x-api-key") == self.api_key or headers.get("authorization") == bearer

    async def _slow(self, conn: Connection, whole: bytes, pieces: list[bytes] | None) -> None:
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        if pieces is None or self.chunk_delay_s <= 0:
            conn.send_raw(whole)
            return
        head, *events = pieces
        conn.send_raw(head)
        for i, event in enumerate(events):
            if i:
                await asyncio.sleep(self.chunk_delay_s)
            await conn.send_chunk(event)
        conn.end_stream()

    @staticmethod
    def _with_close(whole: bytes) -> bytes:
        head_end = whole.index(b"\r\n\r\n")
        return whole[:head_end] + b"\r\nconnection: close" + whole[head_end:]

    # ------------------------------------------------------------------ rendering (once per key)
    def _static(self, key: tuple[Any, ...], request: HttpRequest) -> bytes:
        entry = self._cache.get(key)
        if entry is None:
            if self.kind == "openai":
                body = self._openai._models(request)
            else:
                body = build_response(
                    200,
                    _JSON,
                    msgspec.json.encode(
                        {
                            "data": [
                                {
                                    "type": "model",
                                    "id": m,
                                    "display_name": m,
                                    "created_at": "2025-01-01T00:00:00Z",
                                }
                                for m in self._anthropic.models
                            ],
                            "has_more": False,
                            "first_id": None,
                            "last_id": None,
                        }
                    ),
                )
            entry = self._store(key, (body, None))
        return entry[0]

    def _render(self, key: tuple[Any, ...], probe: _Probe) -> tuple[bytes, list[bytes] | None]:
        endpoint = key[0]
        model = probe.model or ("gpt-4o-mini" if self.kind == "openai" else "claude-sonnet-4-5")
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": "benchmark"}]}
        payload: bytes | list[bytes]
        if endpoint == "embeddings":
            body = {
                "model": model,
                "input": ["benchmark"] * key[2],
                "dimensions": probe.dimensions,
                "encoding_format": probe.encoding_format,
            }
            headers, payload = self._openai._embeddings(body, self._behavior, model, "req_fast")
        else:
            body["stream"] = probe.stream
            if key[3]:
                body["stream_options"] = {"include_usage": True}
            if endpoint == "chat":
                headers, payload = self._openai._chat(body, self._behavior, model, "req_fast")
            else:
                body["max_tokens"] = 4096
                headers, payload = self._anthropic._message(body, self._behavior, model, "req_fast")
        if isinstance(payload, bytes):
            return self._store(key, (build_response(200, headers, payload), None))
        head = build_head(200, headers, chunked=True)
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in payload)
        return self._store(key, (head + chunks + b"0\r\n\r\n", [head, *payload]))

    def _store(
        self, key: tuple[Any, ...], entry: tuple[bytes, list[bytes] | None]
    ) -> tuple[bytes, list[bytes] | None]:
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[key] = entry
        return entry


class FastFake(FakeServer):
    """A `FastApp` on its own thread, like the scripted fakes (for tests of fast mode, in-process benches).

    Records nothing and ignores `push` / `default`: every answer is the precomputed one.
    A benchmark should rather run `python -m tests.fakes` in its own process (see README).
    """

    def __init__(
        self, kind: str = "openai", *, host: str = "127.0.0.1", port: int = 0, **app_options: Any
    ) -> None:
        super().__init__(host=host, port=port, api_key=app_options.get("api_key"))
        self.kind = kind
        self._url_suffix = "/v1" if kind == "openai" else ""
        self.app = FastApp(kind, **app_options)

    def _handle(self, request: HttpRequest, conn: Connection) -> bytes | Coroutine[Any, Any, None]:
        return self.app(request, conn)
