"""A lean HTTP/1.1 client for the router's upstream (provider) calls: the hot path of every llm-call.

One :class:`UpstreamClient` per process, created in the app lifespan and closed in its ``finally``
(``tollgate_router.chat.runtime``). It is an ``asyncio.Protocol`` per connection with httptools'
response parser (llhttp) and a keep-alive pool; it does only what the providers need, which costs a
fraction of aiohttp's CPU per request (docs/decisions/0002-hot-path-http-stack.md).

Supported:

* ``POST`` with a ``bytes`` body, HTTP/1.1 over TCP (``http://``) or TLS (``https://``, default context
  ``ssl.create_default_context()``, SNI and hostname checks). One ``write`` per request: request line,
  ``host``, the caller's headers, ``content-length``, body. No ``accept-encoding`` is sent, but a
  ``gzip`` / ``deflate`` ``content-encoding`` is decoded anyway; any other encoding is a bad response.
* Response bodies framed by ``content-length``, chunked, or read until the server closes (no length,
  ``connection: close``, HTTP/1.0). Interim ``1xx`` responses are skipped.
* :meth:`UpstreamClient.post` (whole body) and :meth:`UpstreamClient.stream` (status and headers on
  enter, then body chunks as they arrive, with flow control: reading pauses above ~256 KiB buffered).
* A pool per origin (scheme, host, port): LIFO idle connections, closed after ``keepalive_s`` idle; at
  most ``pool_limit_per_host`` open connections per origin and ``pool_limit`` in all, callers beyond
  that wait in FIFO order (the wait counts toward the connect timeout). An idle connection the server
  has closed (EOF seen) is never reused. Nothing is re-sent here, not even on a reused connection that
  fails before any response byte: a POST may already be running upstream (and billed), so whether to
  try again is the router's retry policy's decision, counted as an attempt (as Go's net/http does for
  non-idempotent requests; aiohttp retries only idempotent methods).
* Timeouts: connect (pool wait, TCP connect and TLS handshake) = ``connect_timeout_s``; read =
  ``read_timeout_s`` between data arrivals (like aiohttp's ``sock_read``); no total (a long stream is
  legitimate).
* Failures are the router's provider errors: timeouts → ``UpstreamTimedOut``; refused, reset, EOF
  before the response completed, DNS and TLS failures → ``UpstreamUnreachable``; unparseable responses
  and bad encodings → ``UpstreamBadResponse``. Cancellation closes the connection and propagates.
  Header names or values containing CR/LF raise ``ValueError`` (a misconfiguration, not a failure).

Not supported (the router never needed them; aiohttp ran with ``trust_env=False``): proxies and the
environment, HTTP/2, redirects, cookies, credentials in the URL, other methods, request streaming,
``Expect: 100-continue`` on the request side, brotli/zstd, connection upgrades.
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import zlib
from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Final, cast
from urllib.parse import quote, urlsplit

import httptools

from tollgate_router.providers.errors import (
    ProviderError,
    UpstreamBadResponse,
    UpstreamTimedOut,
    UpstreamUnreachable,
)

__all__ = ["UpstreamClient", "UpstreamResponse", "UpstreamStream"]

HIGH_WATER: Final = 256 * 1024  # a stream pauses reading above this many buffered bytes...
LOW_WATER: Final = 64 * 1024  # ...and resumes once the consumer has drained it to this
_URL_CACHE_SIZE: Final = 512
_SKIPPED: Final = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass(slots=True)
class UpstreamResponse:
    """A whole response: status, headers (lower-case names; repeated headers joined by ``", "``), body
    (decoded if the server sent ``content-encoding: gzip|deflate``)."""

    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class _Target:
    key: tuple[str, str, int]  # the pool's origin: scheme, host, port
    host: str
    port: int
    tls: bool
    head: bytes  # b"POST <path?query> HTTP/1.1\r\nhost: <host[:port]>\r\n"


def _parse_url(url: str) -> _Target:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UpstreamUnreachable("invalid upstream url") from exc
    scheme = parts.scheme.lower()
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        raise UpstreamUnreachable("invalid upstream url (http or https with a host)")
    if parts.username is not None or parts.password is not None:
        raise UpstreamUnreachable("credentials in the upstream url are not supported")
    tls = scheme == "https"
    default_port = 443 if tls else 80
    port = port or default_port
    authority = f"[{host}]" if ":" in host else host
    if port != default_port:
        authority = f"{authority}:{port}"
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=-._~")
    if parts.query:
        target += "?" + quote(parts.query, safe="/?%:@!$&'()*+,;=-._~")
    head = f"POST {target} HTTP/1.1\r\nhost: {authority}\r\n".encode("ascii")
    return _Target(key=(scheme, host, port), host=host, port=port, tls=tls, head=head)


class _Inflater:
    """``content-encoding: gzip`` or ``deflate`` (zlib-wrapped, or raw as some servers send it)."""

    __slots__ = ("_d", "_sniff")

    def __init__(self, *, gzip: bool) -> None:
        self._d = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS if gzip else zlib.MAX_WBITS)
        self._sniff = not gzip

    def feed(self, data: bytes) -> bytes:
        if self._sniff and len(data) >= 2:
            self._sniff = False
            if not ((data[0] & 0x0F) == 8 and ((data[0] << 8) | data[1]) % 31 == 0):
                self._d = zlib.decompressobj(wbits=-zlib.MAX_WBITS)
        return self._d.decompress(data)

    def finish(self) -> bytes:
        tail = self._d.flush()
        if not self._d.eof:
            raise zlib.error("truncated compressed body")
        return tail


class _Stop(Exception):
    """Raised inside a parser callback to stop parsing; the reason is in ``_Connection.error``."""


class _Pool:
    __slots__ = ("idle", "key", "open")

    def __init__(self, key: tuple[str, str, int]) -> None:
        self.key = key
        self.idle: collections.deque[_Connection] = collections.deque()  # oldest left, newest right
        self.open = 0  # connections of this origin that hold a slot (idle or in use)


class _Connection(asyncio.Protocol):
    """One keep-alive connection: transport events and parser callbacks fill the current response."""

    __slots__ = (
        "active",
        "buffered",
        "chunks",
        "client",
        "complete",
        "counted",
        "error",
        "headers",
        "headers_done",
        "idle_since",
        "inflater",
        "interim",
        "keep_alive",
        "last_read",
        "loop",
        "lost",
        "lost_waiter",
        "parser",
        "paused",
        "pool",
        "read_timeout",
        "status",
        "stream_mode",
        "timer",
        "timer_due",
        "transport",
        "until_close",
        "waiter",
    )

    def __init__(self, client: UpstreamClient, pool: _Pool) -> None:
        self.client = client
        self.pool = pool
        self.loop = client._loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.counted = True  # holds a slot in the pool's and the client's open counts
        self.lost = False
        self.lost_waiter: asyncio.Future[None] | None = None
        self.idle_since = 0.0
        self.waiter: asyncio.Future[None] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.timer_due = 0.0
        self.read_timeout = 0.0
        self.last_read = 0.0
        self.paused = False
        self._reset(stream=False)
        self.active = False

    def _reset(self, *, stream: bool) -> None:
        self.active = True
        self.stream_mode = stream
        self.status = 0
        self.headers: dict[str, str] = {}
        self.headers_done = False
        self.interim = False
        self.complete = False
        self.keep_alive = False
        self.until_close = False
        self.error: ProviderError | None = None
        self.chunks: collections.deque[bytes] = collections.deque()
        self.buffered = 0
        self.inflater: _Inflater | None = None

    # ------------------------------------------------------------------ the caller's side
    def send(self, data: bytes, read_timeout: float, *, stream: bool) -> None:
        self._reset(stream=stream)
        self.read_timeout = read_timeout
        self.last_read = now = self.loop.time()
        # the read timer outlives responses: it is re-armed only when it fires early or is too late
        due = now + read_timeout
        if self.timer is None or self.timer_due > due:
            self.arm_timer(due)
        assert self.transport is not None
        self.transport.write(data)

    async def wait(self) -> None:
        waiter = self.loop.create_future()
        self.waiter = waiter
        try:
            await waiter
        finally:
            self.waiter = None

    def wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def consumed(self, n: int) -> None:
        """The stream's consumer took ``n`` buffered bytes: resume reading once drained."""
        self.buffered -= n
        if self.paused and self.buffered <= LOW_WATER:
            self.resume()

    def resume(self) -> None:
        self.paused = False
        if self.transport is not None and not self.lost:
            self.transport.resume_reading()
        if self.active and not self.complete and self.error is None:
            self.last_read = now = self.loop.time()  # the pause was ours: the read timeout restarts
            if self.timer is None:
                self.arm_timer(now + self.read_timeout)

    def usable(self) -> bool:
        transport = self.transport
        return (
            not self.lost
            and self.error is None
            and self.keep_alive
            and transport is not None
            and not transport.is_closing()
        )

    def arm_timer(self, due: float) -> None:
        if self.timer is not None:
            self.timer.cancel()
        self.timer_due = due
        self.timer = self.loop.call_at(due, self._on_timer)

    def stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def fail(self, error: ProviderError) -> None:
        if self.error is None and not self.complete:
            self.error = error
        self.stop_timer()
        self.wake()
        if self.transport is not None:
            self.transport.abort()

    def _on_timer(self) -> None:
        self.timer = None
        if not self.active or self.complete or self.paused or self.error is not None:
            return
        due = self.last_read + self.read_timeout
        if self.loop.time() < due:
            self.arm_timer(due)
            return
        self.fail(UpstreamTimedOut(f"no data from upstream for {self.read_timeout:g} s"))

    def _finish(self) -> None:
        """The response is whole: keep-alive decided, waiter woken."""
        if self.inflater is not None:
            try:
                tail = self.inflater.finish()
            except zlib.error:
                self.error = UpstreamBadResponse("upstream sent a truncated compressed body")
                raise _Stop from None
            if tail:
                self.chunks.append(tail)
                self.buffered += len(tail)
        self.keep_alive = not self.until_close and self.parser.should_keep_alive()
        self.complete = True  # the read timer, if pending, finds nothing to do (or the next request)
        self.wake()

    # ------------------------------------------------------------------ transport events
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (uvloop's are not asyncio.Transport subclasses, so no isinstance check)
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.stop_timer()
        if self.lost_waiter is not None and not self.lost_waiter.done():
            self.lost_waiter.set_result(None)
        if not self.active:
            self.client._idle_lost(self)
            return
        if self.complete or self.error is not None:
            return
        if exc is None and self.until_close and self.headers_done:
            try:
                self._finish()
            except _Stop:
                self.wake()
            return
        reason = type(exc).__name__ if exc is not None else "closed"
        self.fail(UpstreamUnreachable(f"upstream connection lost before the response completed ({reason})"))

    def data_received(self, data: bytes) -> None:
        if not self.active:  # unsolicited bytes on an idle connection: it cannot be reused
            assert self.transport is not None
            self.transport.abort()
            return
        self.last_read = self.loop.time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail(UpstreamBadResponse("upstream switched protocols"))
        except httptools.HttpParserError:
            self.fail(self.error or UpstreamBadResponse("upstream sent a malformed HTTP response"))

    def eof_received(self) -> bool | None:
        return None  # the transport closes itself; connection_lost decides what EOF meant

    def pause_writing(self) -> None:  # requests are small; nothing to throttle
        pass

    def resume_writing(self) -> None:
        pass

    # ------------------------------------------------------------------ parser callbacks
    def on_message_begin(self) -> None:
        if self.complete or not self.active:  # a second response nobody asked for
            self.keep_alive = False
            raise _Stop
        self.headers = {}

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        old = self.headers.get(key)
        self.headers[key] = text if old is None else f"{old}, {text}"

    def on_headers_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:  # 1xx: skipped; llhttp ends it without a body and parses the next response
            self.interim = True
            return
        self.interim = False
        self.status = status
        headers = self.headers
        encoding = headers.get("content-encoding")
        if encoding is not None:
            encoding = encoding.strip().lower()
            if encoding in ("gzip", "x-gzip"):
                self.inflater = _Inflater(gzip=True)
            elif encoding == "deflate":
                self.inflater = _Inflater(gzip=False)
            elif encoding not in ("", "identity"):
                self.error = UpstreamBadResponse("upstream sent an unsupported content-encoding")
                raise _Stop
        self.until_close = (
            "content-length" not in headers
            and not headers.get("transfer-encoding", "").lower().endswith("chunked")
            and status not in (204, 304)
        )
        self.headers_done = True
        if self.stream_mode:
            self.wake()

    def on_body(self, body: bytes) -> None:
        if self.inflater is not None:
            try:
                body = self.inflater.feed(body)
            except zlib.error:
                self.error = UpstreamBadResponse("upstream sent a corrupt compressed body")
                raise _Stop from None
            if not body:
                return
        self.chunks.append(body)
        if self.stream_mode:
            self.buffered += len(body)
            if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
                self.paused = True  # the read timer, if it fires, finds it paused and stands down
                self.transport.pause_reading()
            self.wake()

    def on_message_complete(self) -> None:
        if self.interim:
            self.interim = False
            self.headers = {}
            return
        self._finish()


class UpstreamStream:
    """A streamed response: ``status`` and ``headers`` now, the body through :meth:`iter_chunks`."""

    __slots__ = ("_conn", "headers", "status")

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self.status = conn.status
        self.headers = conn.headers

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        """Body bytes as they arrive (decoded if compressed); raises a ProviderError if the response
        breaks off (after yielding what arrived before)."""
        conn = self._conn
        chunks = conn.chunks
        while True:
            if chunks:
                chunk = chunks.popleft() if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                conn.consumed(len(chunk))
                yield chunk
            elif conn.complete:
                return
            elif conn.error is not None:
                raise conn.error
            else:
                await conn.wait()

    async def read(self) -> bytes:
        """The rest of the body."""
        return b"".join([chunk async for chunk in self.iter_chunks()])


class _StreamContext(AbstractAsyncContextManager[UpstreamStream]):
    __slots__ = ("_args", "_client", "_conn")

    def __init__(self, client: UpstreamClient, args: tuple[_Target, bytes, float]) -> None:
        self._client = client
        self._args = args
        self._conn: _Connection | None = None

    async def __aenter__(self) -> UpstreamStream:
        target, data, read_timeout = self._args
        self._conn = await self._client._exchange(target, data, read_timeout, stream=True)
        return UpstreamStream(self._conn)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            # a response whole on the wire leaves a clean connection, whether or not the caller read it all
            if conn.complete and conn.error is None:
                self._client._release(conn)
            else:
                self._client._discard(conn)


class _Wait:
    """What :meth:`UpstreamClient._grant` answers when nothing is free: queue up."""


_WAIT: Final = _Wait()


class UpstreamClient:
    """The router's one upstream HTTP client (see the module docstring). Bound to the running loop."""

    def __init__(
        self,
        *,
        pool_limit: int,
        pool_limit_per_host: int,
        keepalive_s: float = 30.0,
        connect_timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if pool_limit < 1 or pool_limit_per_host < 1:
            raise ValueError("pool limits must be at least 1")
        self._loop = asyncio.get_running_loop()
        self._limit = pool_limit
        self._limit_per_host = pool_limit_per_host
        self._keepalive_s = keepalive_s
        self._connect_timeout_s = connect_timeout_s
        self._ssl = ssl_context
        self._targets: dict[str, _Target] = {}
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._conns: set[_Connection] = set()
        self._open = 0  # connections holding a slot, all origins
        self._idle = 0  # of which idle
        self._waiters: collections.deque[tuple[_Pool, asyncio.Future[_Connection | None]]] = (
            collections.deque()
        )
        self._sweeper: asyncio.TimerHandle | None = None
        self._closed = False

    # ------------------------------------------------------------------ public API
    async def post(
        self, url: str, headers: Mapping[str, str], body: bytes, *, read_timeout_s: float
    ) -> UpstreamResponse:
        """POST ``body`` and read the whole response. Raises ProviderError subclasses (see module doc)."""
        target = self._target(url)
        conn = await self._exchange(
            target, self._request(target, headers, body), read_timeout_s, stream=False
        )
        chunks = conn.chunks
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        response = UpstreamResponse(conn.status, conn.headers, data)
        self._release(conn)
        return response

    def stream(
        self, url: str, headers: Mapping[str, str], body: bytes, *, read_timeout_s: float
    ) -> AbstractAsyncContextManager[UpstreamStream]:
        """``async with client.stream(...) as s:`` — ``s.status``, ``s.headers``, ``s.iter_chunks()``.
        Leaving before the response is whole closes the connection; a whole one is pooled again."""
        target = self._target(url)
        return _StreamContext(self, (target, self._request(target, headers, body), read_timeout_s))

    async def close(self) -> None:
        """Close every connection (idle and in use) and fail the callers waiting for one."""
        self._closed = True
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        while self._waiters:
            _, fut = self._waiters.popleft()
            if not fut.done():
                fut.set_exception(UpstreamUnreachable("upstream client closed"))
        waiting: list[asyncio.Future[None]] = []
        for conn in list(self._conns):
            if not conn.lost and conn.transport is not None:
                conn.lost_waiter = self._loop.create_future()
                waiting.append(conn.lost_waiter)
                conn.fail(UpstreamUnreachable("upstream client closed"))
            self._forget(conn)
        for pool in self._pools.values():
            pool.idle.clear()
        if waiting:
            await asyncio.wait(waiting, timeout=1.0)

    # ------------------------------------------------------------------ requests
    def _target(self, url: str) -> _Target:
        target = self._targets.get(url)
        if target is None:
            target = _parse_url(url)
            if len(self._targets) >= _URL_CACHE_SIZE:
                self._targets.clear()
            self._targets[url] = target
        return target

    @staticmethod
    def _request(target: _Target, headers: Mapping[str, str], body: bytes) -> bytes:
        kept = [f"{name}: {value}\r\n" for name, value in headers.items() if name.lower() not in _SKIPPED]
        lines = "".join(kept)
        if lines.count("\n") != len(kept) or lines.count("\r") != len(kept):
            raise ValueError("CR or LF in an upstream request header")
        return b"".join(
            (target.head, lines.encode("latin-1"), b"content-length: %d\r\n\r\n" % len(body), body)
        )

    async def _exchange(
        self, target: _Target, data: bytes, read_timeout: float, *, stream: bool
    ) -> _Connection:
        """Send ``data`` and wait for the response (whole for a post, its head for a stream)."""
        if self._closed:
            raise UpstreamUnreachable("upstream client closed")
        conn = await self._acquire(target)
        try:
            conn.send(data, read_timeout, stream=stream)
            while not (conn.complete or (stream and conn.headers_done)):
                if conn.error is not None:
                    raise conn.error
                await conn.wait()
        except BaseException:
            self._discard(conn)
            raise
        return conn

    # ------------------------------------------------------------------ pool
    async def _acquire(self, target: _Target) -> _Connection:
        pool = self._pools.get(target.key)
        if pool is None:
            pool = self._pools[target.key] = _Pool(target.key)
        granted = self._grant(pool)  # usually the newest idle connection
        if isinstance(granted, _Connection):
            return granted
        try:
            async with asyncio.timeout(self._connect_timeout_s):
                if isinstance(granted, _Wait):
                    granted = await self._wait_turn(pool)
                    if granted is not None:
                        return granted
                return await self._connect(target, pool)  # on the slot reserved for us
        except TimeoutError as exc:
            raise UpstreamTimedOut(f"upstream connect timed out after {self._connect_timeout_s:g} s") from exc
        except OSError as exc:  # refused, unreachable, DNS (gaierror), TLS (SSLError)
            raise UpstreamUnreachable(f"upstream connect failed ({type(exc).__name__})") from exc

    def _grant(self, pool: _Pool) -> _Connection | _Wait | None:
        """An idle connection, None (a slot reserved for a new connection) or _WAIT (queue up)."""
        while pool.idle:
            conn = pool.idle.pop()
            self._idle -= 1
            if conn.usable() and self._loop.time() - conn.idle_since <= self._keepalive_s:
                return conn
            self._close_quietly(conn)
        if pool.open >= self._limit_per_host:
            return _WAIT
        if self._open >= self._limit:
            victim = self._oldest_idle()
            if victim is None:
                return _WAIT
            self._close_quietly(self._pop_oldest(victim))
        pool.open += 1
        self._open += 1
        return None

    async def _wait_turn(self, pool: _Pool) -> _Connection | None:
        fut: asyncio.Future[_Connection | None] = self._loop.create_future()
        entry = (pool, fut)
        self._waiters.append(entry)
        try:
            return await fut
        except BaseException:
            if fut.done() and not fut.cancelled() and fut.exception() is None:
                granted = fut.result()  # granted, but we are leaving (timeout, cancellation): give it back
                if granted is None:
                    self._free_slot(pool)
                else:
                    self._release(granted)
            else:
                with suppress(ValueError):
                    self._waiters.remove(entry)
            raise

    def _dispatch(self) -> None:
        """Hand freed capacity to the waiters, first come first served."""
        waiters = self._waiters
        if not waiters:
            return
        for entry in list(waiters):
            pool, fut = entry
            if fut.done():
                waiters.remove(entry)
                continue
            granted = self._grant(pool)
            if isinstance(granted, _Wait):
                if self._open >= self._limit and not self._idle:
                    return  # nothing free anywhere: nobody further back can be served either
                continue
            waiters.remove(entry)
            fut.set_result(granted)

    async def _connect(self, target: _Target, pool: _Pool) -> _Connection:
        """Open a connection on a reserved slot (freed again if this fails)."""
        try:
            if target.tls:
                if self._ssl is None:
                    self._ssl = ssl.create_default_context()
                _, conn = await self._loop.create_connection(
                    lambda: _Connection(self, pool),
                    target.host,
                    target.port,
                    ssl=self._ssl,
                    server_hostname=target.host,
                )
            else:
                _, conn = await self._loop.create_connection(
                    lambda: _Connection(self, pool), target.host, target.port
                )
        except BaseException:
            self._free_slot(pool)
            raise
        if self._closed:
            conn.counted = False
            self._free_slot(pool)
            assert conn.transport is not None
            conn.transport.abort()
            raise UpstreamUnreachable("upstream client closed")
        self._conns.add(conn)
        return conn

    def _release(self, conn: _Connection) -> None:
        """The exchange is over: pool the connection if it can carry another request, else close it."""
        conn.active = False
        if conn.paused:
            conn.resume()
        if not conn.usable() or self._closed or not conn.counted:
            self._discard(conn)
            return
        conn.chunks = collections.deque()
        conn.idle_since = self._loop.time()
        pool = conn.pool
        if self._waiters:
            for entry in self._waiters:
                waiter_pool, fut = entry
                if waiter_pool is pool and not fut.done():
                    self._waiters.remove(entry)
                    fut.set_result(conn)
                    return
        pool.idle.append(conn)
        self._idle += 1
        if self._waiters:  # an idle connection elsewhere may now be closed to make room
            self._dispatch()
        if self._sweeper is None:
            self._sweeper = self._loop.call_later(self._keepalive_s, self._sweep)

    def _discard(self, conn: _Connection) -> None:
        """Close a connection that must not be reused and give its slot to whoever waits."""
        conn.active = False
        conn.stop_timer()
        if conn.transport is not None and not conn.lost:
            conn.transport.abort()
        if conn.counted:
            self._forget(conn)
            self._dispatch()

    def _close_quietly(self, conn: _Connection) -> None:
        """Close an idle (already unlisted) connection; its slot is freed without dispatching."""
        if conn.transport is not None and not conn.lost:
            conn.transport.close()
        if conn.counted:
            self._forget(conn)

    def _forget(self, conn: _Connection) -> None:
        if conn.counted:
            conn.counted = False
            conn.pool.open -= 1
            self._open -= 1
        self._conns.discard(conn)

    def _free_slot(self, pool: _Pool) -> None:
        pool.open -= 1
        self._open -= 1
        self._dispatch()

    def _idle_lost(self, conn: _Connection) -> None:
        """An idle connection closed by the server (or by us)."""
        if conn in conn.pool.idle:
            conn.pool.idle.remove(conn)
            self._idle -= 1
        if conn.counted:
            self._forget(conn)
            self._dispatch()

    def _pop_oldest(self, pool: _Pool) -> _Connection:
        self._idle -= 1
        return pool.idle.popleft()

    def _oldest_idle(self) -> _Pool | None:
        best: _Pool | None = None
        for pool in self._pools.values():
            if pool.idle and (best is None or pool.idle[0].idle_since < best.idle[0].idle_since):
                best = pool
        return best

    def _sweep(self) -> None:
        """Close connections idle for longer than ``keepalive_s``."""
        self._sweeper = None
        horizon = self._loop.time() - self._keepalive_s
        for pool in self._pools.values():
            while pool.idle and pool.idle[0].idle_since < horizon:
                self._close_quietly(self._pop_oldest(pool))
        self._dispatch()
        if self._idle and not self._closed:
            self._sweeper = self._loop.call_later(self._keepalive_s / 2, self._sweep)
