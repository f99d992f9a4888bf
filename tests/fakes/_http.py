"""A small HTTP/1.1 server protocol on raw asyncio, shared by the scripted and the fast fakes.

Hand-written so that failures are exact (a dropped socket is a dropped socket, a truncated stream
really stops mid chunked body) and so that the fast path costs a few microseconds per request:
keep-alive, pipelining (answered in order), Content-Length and chunked request bodies,
`Expect: 100-continue`, chunked responses for SSE, write flow control.

A handler gets `(request, connection)` and either returns the complete response bytes (fast path,
see `build_response`) or returns a coroutine that answers through the connection's methods.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote

__all__ = ["Connection", "Handler", "HttpRequest", "build_head", "build_response"]

MAX_HEAD = 64 * 1024
MAX_BODY = 64 * 1024 * 1024

_REASONS: dict[int, bytes] = {s.value: s.phrase.encode() for s in HTTPStatus}
_REASONS[529] = b"Overloaded"


class HttpRequest:
    __slots__ = ("body", "headers", "keep_alive", "method", "path", "query_string", "target")

    def __init__(
        self, method: str, target: str, headers: dict[str, str], body: bytes, keep_alive: bool
    ) -> None:
        self.method = method
        self.target = target
        path, _, self.query_string = target.partition("?")
        self.path = unquote(path)
        self.headers = headers  # lower-case names; repeated headers joined with ", "
        self.body = body
        self.keep_alive = keep_alive

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))


Handler = Callable[[HttpRequest, "Connection"], "bytes | Coroutine[Any, Any, None]"]


def build_head(
    status: int,
    headers: Iterable[tuple[str, str]],
    *,
    keep_alive: bool = True,
    chunked: bool = False,
    content_length: int | None = None,
) -> bytes:
    lines = [b"HTTP/1.1 %d %s" % (status, _REASONS.get(status, b"Unknown"))]
    lines.extend(f"{k}: {v}".encode("latin-1") for k, v in headers)
    if chunked:
        lines.append(b"transfer-encoding: chunked")
    if content_length is not None:
        lines.append(b"content-length: %d" % content_length)
    if not keep_alive:
        lines.append(b"connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def build_response(
    status: int, headers: Iterable[tuple[str, str]], body: bytes, *, keep_alive: bool = True
) -> bytes:
    return build_head(status, headers, keep_alive=keep_alive, content_length=len(body)) + body


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def _parse_chunked(buf: bytearray, pos: int) -> tuple[bytes, int] | None:
    """Decode a chunked body starting at `pos`; None while incomplete, else (body, end offset)."""
    body = bytearray()
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        try:
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise _BadRequest(400, "bad chunk size") from None
        pos = eol + 2
        if size == 0:
            while True:  # optional trailers, then an empty line
                eol = buf.find(b"\r\n", pos)
                if eol < 0:
                    return None
                if eol == pos:
                    return bytes(body), eol + 2
                pos = eol + 2
        if len(buf) < pos + size + 2:
            return None
        body += buf[pos : pos + size]
        if len(body) > MAX_BODY:
            raise _BadRequest(413, "body too large")
        pos += size + 2


class Connection(asyncio.Protocol):
    """One client connection; also the response writer handed to async handlers."""

    def __init__(self, handler: Handler, registry: set[Connection] | None = None) -> None:
        self._handler = handler
        self._registry = registry
        self._buf = bytearray()
        self._transport: asyncio.Transport | None = None
        self._busy = False  # an async handler owns the connection
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._continue_sent = False
        self._keep_alive = True
        self._write_ready: asyncio.Future[None] | None = None
        self._paused = False
        self._response_started = False
        self._response_done = False
        self._streaming = False

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport
        if self._registry is not None:
            self._registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        if self._registry is not None:
            self._registry.discard(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._write_ready is not None and not self._write_ready.done():
            self._write_ready.set_result(None)

    def data_received(self, data: bytes) -> None:
        self._buf += data
        if not self._busy:
            self._process()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    # ------------------------------------------------------------------ request loop
    def _process(self) -> None:
        transport = self._transport
        assert transport is not None
        buf = self._buf
        while buf and not self._closed and not self._busy:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > MAX_HEAD:
                    self._fail(431)
                return
            try:
                method, target, headers, keep_alive = self._parse_head(bytes(buf[:end]))
                body_end = end + 4
                te = headers.get("transfer-encoding")
                if te is not None and "chunked" in te.lower():
                    parsed = _parse_chunked(buf, body_end)
                    if parsed is None:
                        self._maybe_continue(headers)
                        return
                    body, body_end = parsed
                else:
                    try:
                        length = int(headers.get("content-length", "0"))
                    except ValueError:
                        raise _BadRequest(400, "bad content-length") from None
                    if length < 0:
                        raise _BadRequest(400, "bad content-length")
                    if length > MAX_BODY:
                        raise _BadRequest(413, "body too large")
                    if len(buf) < body_end + length:
                        self._maybe_continue(headers)
                        return
                    body = bytes(buf[body_end : body_end + length])
                    body_end += length
            except _BadRequest as exc:
                self._fail(exc.status)
                return
            del buf[:body_end]
            self._continue_sent = False
            self._keep_alive = keep_alive
            request = HttpRequest(method, target, headers, body, keep_alive)
            result = self._handler(request, self)
            if isinstance(result, bytes | bytearray):
                transport.write(result)
                if not keep_alive:
                    self.close()
                continue
            self._busy = True
            self._response_started = self._response_done = self._streaming = False
            self._task = asyncio.get_running_loop().create_task(result)
            self._task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._task = None
        self._busy = False
        if not task.cancelled() and task.exception() is not None and not self._closed:
            # A bug in a fake: answer 500 if still possible, and never hang the client.
            if not self._response_started:
                self._write(
                    build_response(500, [("content-type", "text/plain")], b"fake crashed", keep_alive=False)
                )
            self.close()
            return
        if self._closed:
            return
        if not self._response_done:  # the handler returned without finishing its answer
            self.close()
            return
        if not self._keep_alive:
            self.close()
            return
        if self._buf:
            self._process()

    @staticmethod
    def _parse_head(head: bytes) -> tuple[str, str, dict[str, str], bool]:
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, "bad request line")
        method, target, version = parts
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                raise _BadRequest(400, "bad header line")
            name = name.strip().lower()
            value = value.strip()
            if name in headers:
                headers[name] = headers[name] + ", " + value
            else:
                headers[name] = value
        conn = headers.get("connection", "").lower()
        keep_alive = "keep-alive" in conn if version == "HTTP/1.0" else "close" not in conn
        return method, target, headers, keep_alive

    def _maybe_continue(self, headers: dict[str, str]) -> None:
        if not self._continue_sent and headers.get("expect", "").lower() == "100-continue":
            self._continue_sent = True
            self._write(b"HTTP/1.1 100 Continue\r\n\r\n")

    def _fail(self, status: int) -> None:
        self._write(
            build_response(status, [("content-type", "text/plain")], b"bad request", keep_alive=False)
        )
        self.close()

    # ------------------------------------------------------------------ writer API for async handlers
    @property
    def closed(self) -> bool:
        return self._closed

    def _write(self, data: bytes) -> None:
        if not self._closed and self._transport is not None:
            self._transport.write(data)

    def send(self, status: int, headers: Iterable[tuple[str, str]], body: bytes) -> None:
        """Answer with a complete response (Content-Length)."""
        self._response_started = self._response_done = True
        self._write(build_response(status, headers, body, keep_alive=self._keep_alive))

    def send_raw(self, data: bytes) -> None:
        """Answer with bytes that already hold a complete response (head and body)."""
        self._response_started = self._response_done = True
        self._write(data)

    def start_stream(self, status: int, headers: Iterable[tuple[str, str]]) -> None:
        """Send the head of a chunked response (the body follows with `send_chunk`)."""
        self._response_started = self._streaming = True
        self._write(build_head(status, headers, keep_alive=self._keep_alive, chunked=True))

    async def send_chunk(self, data: bytes) -> None:
        if not data:
            return
        self._write(_chunk(data))
        await self.drain()

    def end_stream(self) -> None:
        """Terminate the chunked body (the zero-length chunk)."""
        self._write(b"0\r\n\r\n")
        self._response_done = True

    async def drain(self) -> None:
        if self._paused and not self._closed:
            self._write_ready = asyncio.get_running_loop().create_future()
            await self._write_ready
            self._write_ready = None

    def close(self) -> None:
        """Close after flushing what was written (FIN); the client sees an incomplete message, if any."""
        self._closed = True
        if self._transport is not None:
            self._transport.close()

    def abort(self) -> None:
        """Close at once, discarding unsent data."""
        self._closed = True
        if self._transport is not None:
            self._transport.abort()
