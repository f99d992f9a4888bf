"""A caller that hangs up mid-stream, through the real server the router runs under (uvicorn, ADR 0010):
the relay stops reading upstream and the call is recorded as cancelled and charged nothing. uvicorn
never fails ``send`` after a disconnect (it drops the bytes), so without the relay's disconnect
watcher the stream would run to its end and be charged."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from tests.fakes import FakeOpenAI

from .conftest import Router, StartRouter


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[int]:
    """The app under uvicorn (httptools, as in production) on a loopback port of this event loop; the
    app's lifespan is run by the test's router fixture, not by the server."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, http="httptools", lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:  # noqa: ASYNC110 - uvicorn exposes a flag, not an event
            await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_a_caller_hanging_up_mid_stream_stops_the_relay_and_is_not_charged(
    start_router: StartRouter, fake: FakeOpenAI
) -> None:
    async with start_router() as router:
        await _hang_up_mid_stream(router, fake)


async def _hang_up_mid_stream(router: Router, fake: FakeOpenAI) -> None:
    provider = await router.provider("openai", base_url=fake.base_url, api_key="sk")
    await router.deployment(
        "m",
        provider,
        "gpt-4o-mini",
        input_price_micro_usd_per_mtok=1_000_000,
        output_price_micro_usd_per_mtok=1_000_000,
    )
    key = await router.key()
    fake.push(chunk_delay_s=0.05, n_chunks=40, content="x" * 40)  # about 2 s if read to the end
    body = b'{"model": "m", "stream": true, "messages": [{"role": "user", "content": "hi"}]}'
    async with served(router.app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST /v1/chat/completions HTTP/1.1\r\nhost: router\r\ncontent-type: application/json\r\n"
            b"authorization: Bearer " + key.encode() + b"\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"data: " in await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)  # the stream has begun
        started = asyncio.get_running_loop().time()
        writer.close()  # hang up

        rows: list[dict[str, Any]] = []
        while not rows and asyncio.get_running_loop().time() - started < 5:
            await asyncio.sleep(0.05)
            rows = await router.spend_rows()
        elapsed = asyncio.get_running_loop().time() - started

    assert len(rows) == 1
    assert rows[0]["status"] == "cancelled"
    assert rows[0]["error_kind"] == "client_disconnected"
    assert rows[0]["cost_micro_usd"] == 0
    assert elapsed < 1.5, "the relay kept reading the upstream stream after the caller left"
