"""The scripted fake server: its own thread, its own event loop, a behavior queue, a request log."""

from __future__ import annotations

import asyncio
import collections
import itertools
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self

import msgspec

from tests.fakes._http import Connection, HttpRequest
from tests.fakes.behavior import Behavior

__all__ = ["FakeServer", "RecordedRequest", "play", "retry_after_value"]


@dataclass(slots=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    json: Any  # the parsed JSON body, None when absent or not JSON
    behavior: Behavior | None = None  # the behavior it consumed (None: not a model call, or rejected)
    received_at: float = field(default=0.0)  # loop.time() on arrival


class FakeServer:
    """Base of the fake providers. Use as a context manager or with `start()` / `stop()`.

    Thread-safe: `push`, `default`, `requests`, `reset` may be called from any thread while the
    server answers on its own thread.
    """

    kind: str = "base"
    _url_suffix: str = ""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        default: Behavior | None = None,
        max_recorded: int | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.api_key = api_key
        self._lock = threading.Condition()
        self._default = default or Behavior()
        self._queue: collections.deque[Behavior] = collections.deque()
        # the last `max_recorded` requests (all by default; a long-running CLI fake bounds it)
        self._requests: collections.deque[RecordedRequest] = collections.deque(maxlen=max_recorded)
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[Connection] = set()
        self._port: int | None = None
        self._startup_error: BaseException | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        if self._thread is not None:
            raise RuntimeError("already started")
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(ready,), name=f"fake-{self.kind}", daemon=True
        )
        self._thread.start()
        ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            self._thread = None
            raise self._startup_error
        return self

    def _run(self, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                loop.create_server(
                    lambda: Connection(self._handle, self._connections),
                    self.host,
                    self._requested_port,
                    reuse_address=True,
                    backlog=1024,
                )
            )
            self._port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:
            self._startup_error = exc
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self._connections):
            conn.abort()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def stop(self) -> None:
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        if not loop.is_closed():
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("fake not started")
        return self._port

    @property
    def url(self) -> str:
        """The server root, e.g. http://127.0.0.1:PORT (no path)."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """What a provider SDK takes as its base URL (see the subclass)."""
        return self.url + self._url_suffix

    # ------------------------------------------------------------------ scripting
    @property
    def default(self) -> Behavior:
        with self._lock:
            return self._default

    @default.setter
    def default(self, behavior: Behavior) -> None:
        with self._lock:
            self._default = behavior

    def push(self, behavior: Behavior | None = None, /, times: int = 1, **fields: Any) -> None:
        """Queue `behavior` (or `Behavior(**fields)`) for the next `times` model calls, FIFO."""
        if behavior is None:
            behavior = Behavior(**fields)
        elif fields:
            behavior = replace(behavior, **fields)
        with self._lock:
            self._queue.extend([behavior] * times)

    @property
    def pending(self) -> int:
        """Queued behaviors not consumed yet."""
        with self._lock:
            return len(self._queue)

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def calls(self) -> list[RecordedRequest]:
        """The received model calls (requests that consumed a behavior)."""
        with self._lock:
            return [r for r in self._requests if r.behavior is not None]

    @property
    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self._requests:
                raise LookupError("no request received")
            return self._requests[-1]

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least `n` requests arrived; raise TimeoutError otherwise."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"{len(self._requests)} requests received, waited for {n}")
            return list(self._requests)

    def reset(self) -> None:
        """Forget queued behaviors and recorded requests; default back to `Behavior()`."""
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self._default = Behavior()

    # ------------------------------------------------------------------ for subclasses
    def _record(self, request: HttpRequest, *, consume: bool) -> RecordedRequest:
        try:
            parsed = msgspec.json.decode(request.body) if request.body else None
        except msgspec.DecodeError:
            parsed = None
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            query=request.query,
            headers=dict(request.headers),
            body=request.body,
            json=parsed,
            received_at=self._loop.time() if self._loop is not None else 0.0,
        )
        with self._lock:
            if consume:
                recorded.behavior = self._queue.popleft() if self._queue else self._default
            self._requests.append(recorded)
            self._lock.notify_all()
        return recorded

    def _next_id(self) -> int:
        return next(self._ids)

    def _handle(self, request: HttpRequest, conn: Connection) -> bytes | Coroutine[Any, Any, None]:
        raise NotImplementedError


ErrorFactory = Callable[[], "tuple[int, list[tuple[str, str]], bytes]"]


async def play(
    conn: Connection,
    behavior: Behavior,
    *,
    error: ErrorFactory,
    success: Callable[[], tuple[list[tuple[str, str]], bytes | list[bytes]]],
    stream_error_event: Callable[[], bytes],
) -> None:
    """Answer one model call as `behavior` scripts it (see `Behavior` for the order of effects).

    `success` returns headers and either a JSON body or the list of SSE events of a stream.
    """
    if behavior.delay_s > 0:
        await asyncio.sleep(behavior.delay_s)
    if behavior.drop_connection:
        conn.close()
        return
    if behavior.status != 200:
        status, headers, body = error()
        conn.send(status, headers, body)
        return
    headers, payload = success()
    if isinstance(payload, bytes):
        conn.send(200, headers, payload)
        return
    conn.start_stream(200, headers)
    for i, event in enumerate(payload):
        if behavior.truncate_after_chunks is not None and i >= behavior.truncate_after_chunks:
            if behavior.truncate_clean:
                conn.end_stream()
            else:
                conn.close()
            return
        if behavior.error_after_chunks is not None and i >= behavior.error_after_chunks:
            await conn.send_chunk(stream_error_event())
            conn.end_stream()
            return
        if i and behavior.chunk_delay_s > 0:
            await asyncio.sleep(behavior.chunk_delay_s)
        if conn.closed:
            return
        await conn.send_chunk(event)
    conn.end_stream()


def retry_after_value(behavior: Behavior) -> str | None:
    seconds = behavior.retry_after
    if seconds is None:
        return "1" if behavior.status == 429 else None
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"
