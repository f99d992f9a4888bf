"""The router's upstream HTTP client against real loopback servers: framing, encodings, pooling,
stale-connection retry, timeouts, failures, streams and TLS.

The servers are tiny ``asyncio.start_server`` handlers in the test's own loop, so a test controls every
byte on the wire and counts the connections the client opened.
"""

from __future__ import annotations

import asyncio
import datetime
import gzip
import ipaddress
import socket
import ssl
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509  # a dependency of tollgate-common, so always in the venv
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tollgate_router.providers.errors import UpstreamBadResponse, UpstreamTimedOut, UpstreamUnreachable
from tollgate_router.providers.http import UpstreamClient, UpstreamStream

Handler = Callable[["Conn"], Awaitable[None]]


@dataclass
class Request:
    head: bytes
    body: bytes

    @property
    def request_line(self) -> bytes:
        return self.head.split(b"\r\n", 1)[0]

    @property
    def headers(self) -> dict[str, str]:
        lines = self.head.decode("latin-1").split("\r\n")[1:]
        return {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines if line)}


@dataclass
class Conn:
    """One accepted connection, as the handler sees it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    server: Server

    async def request(self) -> Request | None:
        """The next request on this connection, None at EOF."""
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        length = int(Request(head, b"").headers.get("content-length", "0"))
        body = await self.reader.readexactly(length)
        request = Request(head[:-4], body)
        self.server.requests.append(request)
        return request

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def wait_eof(self) -> None:
        """Until the client closes this connection."""
        try:
            while await self.reader.read(65536):
                pass
        except ConnectionError:
            pass
        self.server.client_closed += 1


@dataclass
class Server:
    handler: Handler
    tls: ssl.SSLContext | None = None
    accepted: int = 0
    active: int = 0
    max_active: int = 0
    client_closed: int = 0
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        self._writers.add(writer)
        try:
            await self.handler(Conn(reader, writer, self))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.active -= 1
            self._writers.discard(writer)
            writer.close()


@asynccontextmanager
async def serve(handler: Handler, *, tls: ssl.SSLContext | None = None) -> AsyncIterator[Server]:
    server = Server(handler, tls=tls)
    listener = await asyncio.start_server(server._on_conn, "127.0.0.1", 0, ssl=tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        for writer in list(server._writers):
            writer.transport.abort()
        await listener.wait_closed()
        await asyncio.sleep(0)


@asynccontextmanager
async def client(**overrides: float) -> AsyncIterator[UpstreamClient]:
    options: dict[str, float] = {"pool_limit": 10, "pool_limit_per_host": 10, "connect_timeout_s": 2.0}
    options.update(overrides)
    upstream = UpstreamClient(
        pool_limit=int(options["pool_limit"]),
        pool_limit_per_host=int(options["pool_limit_per_host"]),
        connect_timeout_s=options["connect_timeout_s"],
        keepalive_s=options.get("keepalive_s", 30.0),
    )
    try:
        yield upstream
    finally:
        await upstream.close()


def response(body: bytes = b'{"ok":true}', status: int = 200, *headers: str) -> bytes:
    head = [f"HTTP/1.1 {status} X", f"content-length: {len(body)}", "content-type: application/json"]
    return ("\r\n".join([*head, *headers]) + "\r\n\r\n").encode() + body


def chunked(*parts: bytes) -> bytes:
    out = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    for part in parts:
        out += b"%x\r\n%s\r\n" % (len(part), part)
    return out + b"0\r\n\r\n"


def answering(*answers: bytes) -> Handler:
    """Keep-alive handler: answers every request on a connection, cycling through ``answers``."""

    async def handle(conn: Conn) -> None:
        n = 0
        while await conn.request() is not None:
            await conn.send(answers[n % len(answers)])
            n += 1
        conn.server.client_closed += 1

    return handle


async def post(
    upstream: UpstreamClient, url: str, body: bytes = b"{}", read_timeout: float = 2.0
) -> tuple[int, bytes]:
    answer = await upstream.post(url, {"content-type": "application/json"}, body, read_timeout_s=read_timeout)
    return answer.status, answer.body


async def collect(stream: UpstreamStream, into: list[bytes]) -> None:
    """Read a stream's chunks into ``into`` (kept when the stream fails half-way)."""
    async for chunk in stream.iter_chunks():
        into.append(chunk)  # noqa: PERF401 - a comprehension would lose them when the stream fails


# ---------------------------------------------------------------------- wire format and framing
async def test_post_sends_one_well_formed_request_and_reads_a_content_length_body() -> None:
    async with (
        serve(
            answering(response(b'{"id":1}', 201, "X-Request-Id: abc", "Set-Thing: a", "Set-Thing: b"))
        ) as srv,
        client() as upstream,
    ):
        answer = await upstream.post(
            srv.url + "/v1/chat/completions?api-version=2024-10-21",
            {"Content-Type": "application/json", "authorization": "Bearer sk-test", "host": "evil"},
            b'{"model":"m"}',
            read_timeout_s=2,
        )
    assert (answer.status, answer.body) == (201, b'{"id":1}')
    assert answer.headers["x-request-id"] == "abc"  # lower-case names
    assert answer.headers["set-thing"] == "a, b"
    request = srv.requests[0]
    assert request.request_line == b"POST /v1/chat/completions?api-version=2024-10-21 HTTP/1.1"
    assert request.headers == {
        "host": f"127.0.0.1:{srv.port}",
        "content-type": "application/json",
        "authorization": "Bearer sk-test",
        "content-length": "13",
    }  # no accept-encoding (identity), no user-agent, the caller cannot override host
    assert request.body == b'{"model":"m"}'


async def test_a_header_with_a_newline_is_refused_before_anything_is_sent() -> None:
    async with serve(answering(response())) as srv, client() as upstream:
        with pytest.raises(ValueError, match="CR or LF"):
            await upstream.post(srv.url, {"x-extra": "a\r\nx-injected: 1"}, b"", read_timeout_s=1)
    assert srv.accepted == 0


async def test_chunked_bodies_are_reassembled_for_post_and_streamed_as_they_arrive() -> None:
    first_read = asyncio.Event()

    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n")
        await first_read.wait()  # the second chunk only after the client has seen the first
        await conn.send(b"6\r\n world\r\n0\r\n\r\n")
        await conn.request()
        await conn.send(chunked(b"a", b"bc", b"def"))
        await conn.wait_eof()

    async with serve(handle) as srv, client() as upstream:
        async with upstream.stream(srv.url, {}, b"{}", read_timeout_s=2) as stream:
            assert stream.status == 200
            assert stream.headers["transfer-encoding"] == "chunked"
            seen = []
            async for chunk in stream.iter_chunks():
                seen.append(chunk)
                first_read.set()
        assert seen == [b"hello", b" world"]
        assert await post(upstream, srv.url) == (200, b"abcdef")
    assert srv.accepted == 1  # a fully read chunked stream goes back to the pool


@pytest.mark.parametrize(
    "head",
    [
        b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",  # no length at all: the body runs to the end of the connection
    ],
)
async def test_a_body_without_length_is_read_until_the_server_closes(head: bytes) -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(head + b"part one, ")
        await asyncio.sleep(0.02)
        await conn.send(b"part two")
        conn.writer.close()

    async with serve(handle) as srv, client() as upstream:
        assert await post(upstream, srv.url) == (200, b"part one, part two")
        async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
            assert b"".join([c async for c in stream.iter_chunks()]) == b"part one, part two"
    assert srv.accepted == 2  # never reused


async def test_connection_close_in_the_response_means_a_new_connection_next_time() -> None:
    async with serve(answering(response(b"x", 200, "connection: close"))) as srv, client() as upstream:
        for _ in range(3):
            assert await post(upstream, srv.url) == (200, b"x")
    assert srv.accepted == 3


async def test_interim_100_continue_responses_are_skipped() -> None:
    answer = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n" + response(
        b"final"
    )
    async with serve(answering(answer)) as srv, client() as upstream:
        assert await post(upstream, srv.url) == (200, b"final")
        async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
            assert stream.status == 200
            assert "link" not in stream.headers
            assert await stream.read() == b"final"
    assert srv.accepted == 1


# ---------------------------------------------------------------------- content encodings
@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send it
    ],
)
async def test_compressed_bodies_are_decoded_for_post_and_stream(
    encoding: str, encode: Callable[[bytes], bytes]
) -> None:
    payload = b'{"choices":[' + b'"token",' * 2000 + b'"end"]}'
    packed = encode(payload)
    streamed = chunked(packed[:10], packed[10:50], packed[50:])
    streamed = streamed.replace(b"\r\n\r\n", f"\r\ncontent-encoding: {encoding}\r\n\r\n".encode(), 1)
    answers = (response(packed, 200, f"content-encoding: {encoding}"), streamed)
    async with serve(answering(*answers)) as srv, client() as upstream:
        assert await post(upstream, srv.url) == (200, payload)
        async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
            assert await stream.read() == payload


async def test_an_unknown_content_encoding_is_a_bad_response() -> None:
    async with serve(answering(response(b"xx", 200, "content-encoding: br"))) as srv, client() as upstream:
        with pytest.raises(UpstreamBadResponse, match="content-encoding"):
            await post(upstream, srv.url)


async def test_a_corrupt_gzip_body_is_a_bad_response() -> None:
    corrupt = answering(response(b"not gzip at all", 200, "content-encoding: gzip"))
    async with serve(corrupt) as srv, client() as upstream:
        with pytest.raises(UpstreamBadResponse):
            await post(upstream, srv.url)


# ---------------------------------------------------------------------- pooling
async def test_sequential_calls_reuse_one_keep_alive_connection() -> None:
    async with serve(answering(response(b"a"), chunked(b"b"))) as srv, client() as upstream:
        for _ in range(10):
            await post(upstream, srv.url)
            async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
                await stream.read()
    assert srv.accepted == 1
    assert len(srv.requests) == 20


async def test_the_pool_limit_is_honoured_under_twenty_concurrent_calls() -> None:
    async def handle(conn: Conn) -> None:
        while await conn.request() is not None:
            await asyncio.sleep(0.01)
            await conn.send(response(b"ok"))

    async with serve(handle) as srv, client(pool_limit=2, pool_limit_per_host=5) as upstream:
        results = await asyncio.gather(*(post(upstream, srv.url) for _ in range(20)))
    assert results == [(200, b"ok")] * 20
    assert srv.max_active == 2
    assert srv.accepted == 2


async def test_the_per_host_limit_is_honoured_and_waiting_counts_toward_the_connect_timeout() -> None:
    release = asyncio.Event()

    async def handle(conn: Conn) -> None:
        await conn.request()
        await release.wait()
        await conn.send(response(b"late"))
        await conn.wait_eof()

    async with (
        serve(handle) as srv,
        client(pool_limit=10, pool_limit_per_host=1, connect_timeout_s=0.1) as upstream,
    ):
        busy = asyncio.create_task(post(upstream, srv.url))
        await asyncio.sleep(0.05)
        with pytest.raises(UpstreamTimedOut, match="connect"):
            await post(upstream, srv.url)
        release.set()
        assert await busy == (200, b"late")
    assert srv.accepted == 1


async def test_idle_connections_older_than_keepalive_are_not_reused() -> None:
    async with serve(answering(response())) as srv, client(keepalive_s=0.05) as upstream:
        await post(upstream, srv.url)
        await asyncio.sleep(0.1)
        await post(upstream, srv.url)
        await asyncio.sleep(0.15)  # the sweeper closes the idle one
        assert srv.client_closed == 2
    assert srv.accepted == 2


async def test_close_closes_idle_connections() -> None:
    async with serve(answering(response())) as srv:
        async with client() as upstream:
            await post(upstream, srv.url)
            assert srv.client_closed == 0
        await asyncio.sleep(0.02)
        assert srv.client_closed == 1
        with pytest.raises(UpstreamUnreachable, match="closed"):
            await post(upstream, srv.url)


# ---------------------------------------------------------------------- stale connections
async def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(response(b"first"))
        conn.writer.close()  # idle close (a FIN after the answer)

    async with serve(handle) as srv, client() as upstream:
        assert await post(upstream, srv.url) == (200, b"first")
        await asyncio.sleep(0.05)  # idle for a moment: the client sees the EOF
        assert await post(upstream, srv.url) == (200, b"first")
    assert srv.accepted == 2
    assert len(srv.requests) == 2  # nothing was sent on the closed connection


async def test_a_reused_connection_dropped_on_the_next_request_is_not_re_sent() -> None:
    """The server may have started (and billed) the POST: re-sending is the router's retry policy's
    decision, counted as an attempt, never the client's."""

    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(response(b"one"))
        await conn.request()  # the second request arrives on the kept-alive connection...
        conn.writer.transport.abort()  # ...and the server drops it without a byte

    async with serve(handle) as srv, client() as upstream:
        assert await post(upstream, srv.url) == (200, b"one")
        with pytest.raises(UpstreamUnreachable):
            await post(upstream, srv.url)
    assert srv.accepted == 1
    assert len(srv.requests) == 2


async def test_a_fresh_connection_failing_is_not_retried() -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        conn.writer.transport.abort()

    async with serve(handle) as srv, client() as upstream:
        with pytest.raises(UpstreamUnreachable):
            await post(upstream, srv.url)
    assert srv.accepted == 1


async def test_a_reused_connection_failing_after_response_bytes_is_not_retried() -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(response(b"one"))
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\npartial")
        conn.writer.transport.abort()

    async with serve(handle) as srv, client() as upstream:
        await post(upstream, srv.url)
        with pytest.raises(UpstreamUnreachable):
            await post(upstream, srv.url)
    assert srv.accepted == 1


# ---------------------------------------------------------------------- failures and timeouts
async def test_connection_refused_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with client() as upstream:
        with pytest.raises(UpstreamUnreachable, match="connect failed"):
            await post(upstream, f"http://127.0.0.1:{port}/v1")


async def test_a_server_that_never_accepts_is_a_connect_timeout() -> None:
    # a listening socket whose backlog is full: the kernel drops further SYNs, connect() hangs
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(0)
        port = listener.getsockname()[1]
        fillers = []
        try:
            for _ in range(4):
                filler = socket.socket()
                filler.setblocking(False)
                fillers.append(filler)
                filler.connect_ex(("127.0.0.1", port))
            await asyncio.sleep(0.05)
            async with client(connect_timeout_s=0.2) as upstream:
                started = asyncio.get_running_loop().time()
                with pytest.raises(UpstreamTimedOut, match="connect"):
                    await post(upstream, f"http://127.0.0.1:{port}/v1")
                assert asyncio.get_running_loop().time() - started < 1.0
        finally:
            for filler in fillers:
                filler.close()


async def test_no_answer_within_the_read_timeout_is_a_timeout_and_closes_the_connection() -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.wait_eof()

    async with serve(handle) as srv, client() as upstream:
        with pytest.raises(UpstreamTimedOut):
            await post(upstream, srv.url, read_timeout=0.1)
        await asyncio.sleep(0.02)
        assert srv.client_closed == 1


async def test_the_read_timeout_is_between_data_arrivals_not_total() -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(5):  # 0.3 s in all, never 0.15 s without a byte
            await asyncio.sleep(0.06)
            await conn.send(b"1\r\n.\r\n")
        await asyncio.sleep(0.4)  # then silence
        await conn.send(b"0\r\n\r\n")

    got: list[bytes] = []
    async with (
        serve(handle) as srv,
        client() as upstream,
        upstream.stream(srv.url, {}, b"", read_timeout_s=0.15) as stream,
    ):
        with pytest.raises(UpstreamTimedOut):
            await collect(stream, got)
    assert b"".join(got) == b"....."


async def test_a_reset_mid_body_is_unreachable() -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789")
        await asyncio.sleep(0.02)
        conn.writer.transport.abort()

    async with serve(handle) as srv, client() as upstream:
        with pytest.raises(UpstreamUnreachable, match="lost"):
            await post(upstream, srv.url)
        got: list[bytes] = []
        async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
            with pytest.raises(UpstreamUnreachable):
                await collect(stream, got)
        assert b"".join(got) == b"0123456789"  # what arrived is delivered before the failure


@pytest.mark.parametrize(
    "garbage",
    [
        b"HTTP/1.1 abc OK\r\n\r\n",
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: nope\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n",
    ],
)
async def test_a_malformed_response_is_a_bad_response(garbage: bytes) -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(garbage)
        await conn.wait_eof()

    async with serve(handle) as srv, client() as upstream:
        with pytest.raises(UpstreamBadResponse):
            await post(upstream, srv.url)


async def test_cancellation_closes_the_connection_and_propagates() -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.wait_eof()

    async with serve(handle) as srv, client() as upstream:
        task = asyncio.create_task(post(upstream, srv.url))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.02)
        assert srv.client_closed == 1


async def test_an_invalid_url_is_unreachable() -> None:
    async with client() as upstream:
        for url in ("ftp://example.com/x", "http:///nohost", "http://user:pw@127.0.0.1:1/"):
            with pytest.raises(UpstreamUnreachable, match="url"):
                await post(upstream, url)


# ---------------------------------------------------------------------- streams
async def test_leaving_a_stream_early_closes_its_connection() -> None:
    async def handle(conn: Conn) -> None:
        if await conn.request() is None:
            return
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        if conn.server.accepted == 1:
            await conn.wait_eof()
        else:
            await conn.send(b"0\r\n\r\n")
            await conn.wait_eof()

    async with serve(handle) as srv, client() as upstream:
        async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
            async for chunk in stream.iter_chunks():
                assert chunk == b"first"
                break  # the caller stops before the end
        await asyncio.sleep(0.02)
        assert srv.client_closed == 1  # closed, not pooled half-read
        async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
            assert await stream.read() == b"first"
    assert srv.accepted == 2


async def test_an_exception_inside_a_stream_closes_its_connection() -> None:
    async def handle(conn: Conn) -> None:
        await conn.request()
        await conn.send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await conn.wait_eof()

    async with serve(handle) as srv, client() as upstream:

        async def failing_caller() -> None:
            async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
                async for _ in stream.iter_chunks():
                    raise RuntimeError("caller failed")

        with pytest.raises(RuntimeError):
            await failing_caller()
        await asyncio.sleep(0.02)
        assert srv.client_closed == 1


async def test_a_slow_stream_consumer_pauses_reading_and_loses_nothing() -> None:
    total = 24 * 1024 * 1024
    server_blocked = asyncio.Event()

    async def handle(conn: Conn) -> None:
        await conn.request()
        conn.writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % total)
        block = bytes(range(256)) * 4096  # 1 MiB
        for _ in range(total // len(block)):
            conn.writer.write(block)
        try:
            await asyncio.wait_for(conn.writer.drain(), 0.3)
        except TimeoutError:
            server_blocked.set()  # the client stopped reading: its kernel buffers are full
        await conn.writer.drain()
        await conn.wait_eof()

    async with serve(handle) as srv, client() as upstream:
        async with upstream.stream(srv.url, {}, b"", read_timeout_s=0.2) as stream:
            await asyncio.sleep(0.5)  # longer than the read timeout: a paused read does not time out
            assert server_blocked.is_set()
            received = 0
            async for chunk in stream.iter_chunks():
                assert chunk[:1] == bytes([received % 256])
                received += len(chunk)
        assert received == total


# ---------------------------------------------------------------------- TLS
def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tollgate-test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


async def test_https_over_a_loopback_tls_server_with_a_trusted_self_signed_cert(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    trusting = ssl.create_default_context(cafile=str(cert))

    async with serve(answering(response(b"secure"), chunked(b"sec", b"ure")), tls=server_ctx) as srv:
        upstream = UpstreamClient(
            pool_limit=4, pool_limit_per_host=4, connect_timeout_s=2, ssl_context=trusting
        )
        try:
            assert await post(upstream, srv.url) == (200, b"secure")
            async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
                assert await stream.read() == b"secure"
        finally:
            await upstream.close()
        assert srv.accepted == 1
        assert srv.requests[0].headers["host"] == f"127.0.0.1:{srv.port}"

        untrusting = UpstreamClient(pool_limit=4, pool_limit_per_host=4, connect_timeout_s=2)  # system CAs
        try:
            with pytest.raises(UpstreamUnreachable, match="SSL"):
                await post(untrusting, srv.url)
        finally:
            await untrusting.close()


# ---------------------------------------------------------------------- uvloop (what granian runs)
async def test_the_client_works_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")

    async def scenario() -> tuple[list[tuple[int, bytes]], bytes, int]:
        async def slow(conn: Conn) -> None:
            await conn.request()
            await conn.wait_eof()

        async with serve(answering(response(b"a"), chunked(b"b", b"c"))) as srv, client() as upstream:
            answers = [await post(upstream, srv.url) for _ in range(3)]
            async with upstream.stream(srv.url, {}, b"", read_timeout_s=2) as stream:
                streamed = await stream.read()
            async with serve(slow) as silent:
                with pytest.raises(UpstreamTimedOut):
                    await post(upstream, silent.url, read_timeout=0.05)
            return answers, streamed, srv.accepted

    answers, streamed, accepted = await asyncio.to_thread(uvloop.run, scenario())
    assert answers == [(200, b"a"), (200, b"bc"), (200, b"a")]
    assert streamed == b"bc"
    assert accepted == 1
