"""A lean Redis connection for the limits scripts: one connection per process, every call pipelined.

redis-py's asyncio client checks a connection out of its pool for each command, packs it through a
generic encoder and parses the answer under a retry wrapper; on the router's hot path (one limits
script per admitted call) that was the largest CPU item. :class:`ScriptRunner` does only what the
limiter needs: ``EVALSHA`` (``EVAL`` on ``NOSCRIPT``, which also caches the script server-side) over one
:class:`asyncio.Protocol` connection, replies parsed by ``hiredis.Reader``. Any number of coroutines
may call at once: each command is one ``transport.write`` and Redis answers in order, so replies are
matched to a FIFO of futures.

Errors are redis-py's, so callers' ``except RedisError`` keeps working:

* an error reply (other than ``NOSCRIPT``) raises :class:`redis.exceptions.ResponseError`; the
  connection stays usable;
* no connection (refused, reset, closed by the server, protocol error) raises
  :class:`redis.exceptions.ConnectionError` (``AuthenticationError`` when ``AUTH`` is refused);
* no reply within ``timeout_s`` raises :class:`redis.exceptions.TimeoutError` for the command that
  waited longest and drops the connection (every other command in flight fails with
  ``ConnectionError``): a late reply would be matched to the wrong caller. Connecting takes at most
  ``connect_timeout_s`` (``TimeoutError`` too).

The next call after a drop reconnects. The deadline is watched by one timer per connection, re-armed
to the oldest command's deadline, not by a timer per command.

URLs: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS with the default SSL
context: certificate and host name verified) and ``unix://path[?db=N]``, parsed by redis-py's own
``parse_url``; :func:`runner_for` returns None for options this runner does not implement, and the
limiter then keeps using redis-py.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import hiredis
import structlog
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url
from redis.exceptions import AuthenticationError, DataError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["Script", "ScriptRunner", "runner_for"]

_log = structlog.get_logger("tollgate.router.limits")

Arg = str | int | bytes | float
_DEFAULT_TIMEOUT_S: Final = 2.0
# URL options that change nothing this runner does (pool size, redis-py's own health checks)
_IGNORED_OPTIONS: Final = frozenset({"max_connections", "health_check_interval", "socket_keepalive"})
_NOT_ENOUGH: Final = object()  # hiredis.Reader.gets() when no whole reply is buffered yet


def _bulk(value: Arg) -> bytes:
    """One RESP bulk string, encoded as redis-py encodes arguments (UTF-8, decimal numbers)."""
    if isinstance(value, str):
        data = value.encode()
    elif isinstance(value, bool):
        raise DataError("Invalid input of type: 'bool'. Convert to a bytes, string, int or float first.")
    elif isinstance(value, int):
        data = b"%d" % value
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
    elif isinstance(value, float):
        data = repr(value).encode()
    else:
        raise DataError(f"Invalid input of type: {type(value).__name__!r}.")
    return b"$%d\r\n%b\r\n" % (len(data), data)


def _command(*parts: Arg) -> bytes:
    return b"*%d\r\n" % len(parts) + b"".join(_bulk(part) for part in parts)


class Script:
    """A Lua script with its ``EVALSHA`` and ``EVAL`` command heads encoded once."""

    __slots__ = ("_eval_head", "_evalsha_head", "sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        encoded = source.encode()
        self.sha = hashlib.sha1(encoded, usedforsecurity=False).hexdigest()
        self._evalsha_head = _bulk(b"EVALSHA") + _bulk(self.sha)
        self._eval_head = _bulk(b"EVAL") + _bulk(encoded)

    def _pack(self, head: bytes, keys: Sequence[Arg], args: Sequence[Arg]) -> bytes:
        parts = [b"*%d\r\n" % (3 + len(keys) + len(args)), head, _bulk(len(keys))]
        parts += map(_bulk, keys)
        parts += map(_bulk, args)
        return b"".join(parts)

    def evalsha(self, keys: Sequence[Arg], args: Sequence[Arg]) -> bytes:
        return self._pack(self._evalsha_head, keys, args)

    def eval(self, keys: Sequence[Arg], args: Sequence[Arg]) -> bytes:
        return self._pack(self._eval_head, keys, args)


class _Connection(asyncio.Protocol):
    """One Redis connection: writes commands, matches replies to a FIFO of futures, watches the
    oldest command's deadline."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self.loop = loop
        self.timeout_s = timeout_s
        self.transport: asyncio.Transport | None = None
        self.alive = False
        self._reader = hiredis.Reader(replyError=ResponseError, notEnoughData=_NOT_ENOUGH)
        self._pending: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._lost: asyncio.Future[None] = loop.create_future()
        self._out: list[bytes] = []  # commands of this loop iteration, written together

    # -- asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.alive = True

    def data_received(self, data: bytes) -> None:
        reader, pending = self._reader, self._pending
        reader.feed(data)
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as exc:
                self.drop(RedisConnectionError(f"Protocol error from Redis: {exc}"))
                return
            if reply is _NOT_ENOUGH:
                return
            if not pending:
                self.drop(RedisConnectionError("Redis sent a reply nobody asked for"))
                return
            future = pending.popleft()[0]
            if not future.done():  # a cancelled caller's reply is read and dropped
                future.set_result(reply)

    def eof_received(self) -> None:
        self.alive = False  # the server closed its side; connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.alive = False
        self._fail_all(RedisConnectionError("Connection to Redis lost" + (f": {exc}" if exc else "")))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._lost.done():
            self._lost.set_result(None)

    # -- commands
    def send(self, payload: bytes) -> asyncio.Future[Any]:
        """Write one command; the future gets its reply (an error reply is a ResponseError *value*)."""
        future = self.loop.create_future()
        deadline = self.loop.time() + self.timeout_s
        self._pending.append((future, deadline))
        # Auto-pipelining: commands issued in one loop iteration leave in one write (one syscall),
        # after the callers of this iteration have run; at most one iteration of added latency.
        if not self._out:
            self.loop.call_soon(self._flush)
        self._out.append(payload)
        if self._timer is None:
            self._timer = self.loop.call_at(deadline, self._check_deadline)
        return future

    def _flush(self) -> None:
        out, self._out = self._out, []
        transport = self.transport
        if transport is None or transport.is_closing():
            return  # connection_lost fails the pending futures
        transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _check_deadline(self) -> None:
        self._timer = None
        if not self._pending:
            return
        future, deadline = self._pending[0]
        if self.loop.time() + 0.001 >= deadline:  # timers may fire up to a clock tick early
            self._pending.popleft()
            if not future.done():
                future.set_exception(RedisTimeoutError(f"No reply from Redis within {self.timeout_s} s"))
            self.drop(RedisConnectionError("Connection to Redis dropped after a timed-out command"))
        else:
            self._timer = self.loop.call_at(deadline, self._check_deadline)

    def _fail_all(self, exc: Exception) -> None:
        pending = self._pending
        while pending:
            future = pending.popleft()[0]
            if not future.done():
                future.set_exception(exc)

    def drop(self, exc: Exception) -> None:
        """Fail every command in flight and abort the connection (replies would be misaligned)."""
        self.alive = False
        self._fail_all(exc)
        if self.transport is not None:
            self.transport.abort()

    async def close(self) -> None:
        self.alive = False
        self._fail_all(RedisConnectionError("Redis connection closed"))
        if self.transport is not None:
            self.transport.close()
            await asyncio.wait([self._lost], timeout=1.0)


class ScriptRunner:
    """Runs Lua scripts over one pipelined connection; ``app.state.limiter`` owns it and closes it."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 6379,
        path: str | None = None,
        db: int = 0,
        username: str | None = None,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        timeout_s: float = _DEFAULT_TIMEOUT_S,
        connect_timeout_s: float | None = None,
    ) -> None:
        self._host, self._port, self._path, self._db = host, port, path, db
        self._username, self._password = username, password
        self._ssl = ssl_context
        self.timeout_s = timeout_s
        self.connect_timeout_s = timeout_s if connect_timeout_s is None else connect_timeout_s
        self._conn: _Connection | None = None
        self._attempt: asyncio.Task[_Connection] | None = None  # the one connect in progress
        self._closed = False

    @classmethod
    def from_url(
        cls, url: str, *, timeout_s: float = _DEFAULT_TIMEOUT_S, connect_timeout_s: float | None = None
    ) -> ScriptRunner:
        """Raises ValueError for a URL this runner cannot speak (then use redis-py)."""
        options: dict[str, Any] = dict(parse_url(url))
        connection_class = options.pop("connection_class", None)
        timeout_s = float(options.pop("socket_timeout", None) or timeout_s)
        connect_timeout_s = options.pop("socket_connect_timeout", None) or connect_timeout_s
        known = {"host", "port", "db", "username", "password", "path"}
        unknown = sorted(k for k in options if k not in known and k not in _IGNORED_OPTIONS)
        if unknown:
            raise ValueError(f"Redis URL options not supported by the script runner: {', '.join(unknown)}")
        if connection_class is UnixDomainSocketConnection:
            if not options.get("path"):
                raise ValueError("unix:// Redis URL without a path")
        elif connection_class not in (None, SSLConnection):
            raise ValueError(f"unsupported Redis connection class {connection_class!r}")
        return cls(
            host=options.get("host") or "127.0.0.1",
            port=int(options.get("port") or 6379),
            path=options.get("path") if connection_class is UnixDomainSocketConnection else None,
            db=int(options.get("db") or 0),
            username=options.get("username") or None,
            password=options.get("password") or None,
            ssl_context=ssl.create_default_context() if connection_class is SSLConnection else None,
            timeout_s=timeout_s,
            connect_timeout_s=None if connect_timeout_s is None else float(connect_timeout_s),
        )

    async def run(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Any:
        """``EVALSHA`` the script (``EVAL`` it on ``NOSCRIPT``) and return its reply as redis-py would."""
        conn = self._conn
        if conn is None or not conn.alive or conn.loop is not asyncio.get_running_loop():
            conn = await self._connect()
        reply = await conn.send(script.evalsha(keys, args))
        if isinstance(reply, ResponseError):
            if not str(reply).startswith("NOSCRIPT"):
                raise reply
            conn = self._conn
            if conn is None or not conn.alive:
                conn = await self._connect()
            reply = await conn.send(script.eval(keys, args))
            if isinstance(reply, ResponseError):
                raise reply
        return reply

    async def _connect(self) -> _Connection:
        """The live connection, opening one if needed. Concurrent callers share one attempt and its
        outcome: against a server that does not answer they all fail after one timeout, not in turn."""
        if self._closed:
            raise RedisConnectionError("The script runner is closed")
        loop = asyncio.get_running_loop()
        conn = self._conn
        if conn is not None and conn.alive and conn.loop is loop:
            return conn
        attempt = self._attempt
        if attempt is None or attempt.get_loop() is not loop:
            attempt = self._attempt = loop.create_task(self._replace(loop, conn))
            attempt.add_done_callback(self._attempt_done)
        return await asyncio.shield(attempt)  # a cancelled caller leaves the attempt to the others

    def _attempt_done(self, attempt: asyncio.Task[_Connection]) -> None:
        if self._attempt is attempt:
            self._attempt = None
        if not attempt.cancelled():
            attempt.exception()  # retrieved: every waiter may have been cancelled

    async def _replace(self, loop: asyncio.AbstractEventLoop, old: _Connection | None) -> _Connection:
        if old is not None:
            self._conn = None
            if old.loop is loop:
                old.drop(RedisConnectionError("Redis connection replaced"))
        conn = await self._open(loop)
        if self.closed:  # closed while connecting
            await conn.close()
            raise RedisConnectionError("The script runner is closed")
        self._conn = conn
        return conn

    async def _open(self, loop: asyncio.AbstractEventLoop) -> _Connection:
        where = self._path or f"{self._host}:{self._port}"
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                if self._path is not None:
                    _, conn = await loop.create_unix_connection(
                        lambda: _Connection(loop, self.timeout_s), self._path
                    )
                else:
                    _, conn = await loop.create_connection(
                        lambda: _Connection(loop, self.timeout_s),
                        self._host,
                        self._port,
                        ssl=self._ssl,
                        server_hostname=self._host if self._ssl is not None else None,
                    )
        except TimeoutError as exc:
            raise RedisTimeoutError(f"Timeout connecting to Redis at {where}") from exc
        except OSError as exc:  # refused, unreachable, TLS handshake (ssl.SSLError is an OSError)
            raise RedisConnectionError(f"Error connecting to Redis at {where}: {exc}") from exc
        try:
            await self._handshake(conn)
        except BaseException:
            await conn.close()
            raise
        return conn

    async def _handshake(self, conn: _Connection) -> None:
        waits: list[tuple[str, asyncio.Future[Any]]] = []
        if self._password is not None:
            auth = (
                _command(b"AUTH", self._username, self._password)
                if self._username
                else _command(b"AUTH", self._password)
            )
            waits.append(("AUTH", conn.send(auth)))
        if self._db:
            waits.append(("SELECT", conn.send(_command(b"SELECT", self._db))))
        try:
            for what, future in waits:
                reply = await future
                if isinstance(reply, ResponseError):
                    if what == "AUTH":
                        raise AuthenticationError(str(reply))
                    raise RedisConnectionError(f"{what} failed: {reply}")
        finally:
            for _, future in waits:
                future.cancel()  # no-op once answered; else nobody is left to retrieve its error

    @property
    def closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        """Close the connection; the runner refuses further calls."""
        self._closed = True
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()


def runner_for(url: str, redis: Redis) -> ScriptRunner | None:
    """A runner for the router's Redis URL with the redis-py client's timeouts, or None (with a log
    line) when the URL has options the runner does not implement: the limiter then uses redis-py."""
    options = redis.connection_pool.connection_kwargs
    timeout_s = options.get("socket_timeout") or _DEFAULT_TIMEOUT_S
    connect_timeout_s = options.get("socket_connect_timeout") or timeout_s
    try:
        return ScriptRunner.from_url(url, timeout_s=timeout_s, connect_timeout_s=connect_timeout_s)
    except ValueError as exc:
        _log.info("limits_wire_unavailable", reason=str(exc))
        return None
