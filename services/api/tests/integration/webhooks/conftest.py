"""Fixtures for webhook tests: a real HTTP receiver on loopback with a script of answers, and an api
(``tests.jobs_support.job_world``) that allows http endpoints and times out fast.

    receiver = Receiver(["500", "timeout", "drop", "200"])  # one action per request, then "200"
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.jobs_support import JobWorld, SeededTeam, job_world

TIMEOUT_S = 0.5
WEBHOOK_SETTINGS = {
    "WEBHOOKS_ALLOW_HTTP": "true",
    "WEBHOOKS_TIMEOUT_S": str(TIMEOUT_S),
    "WEBHOOKS_CONNECT_TIMEOUT_S": str(TIMEOUT_S),
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver speaking raw HTTP/1.1, so it can also hang (``timeout``) or hang up (``drop``)."""

    script: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _server: asyncio.AbstractServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            headers = {}
            for line in lines:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.received.append(Received(request_line.split(" ")[1], headers, body))
            action = self.script.pop(0) if self.script else "200"
            if action == "timeout":
                await asyncio.sleep(TIMEOUT_S * 4)
            elif action != "drop":
                writer.write(
                    f"HTTP/1.1 {action} X\r\ncontent-length: 7\r\nconnection: close\r\n\r\nanswer!".encode()
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), 2)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as r:
        yield r


@dataclass
class Hooks:
    """What webhook tests do through the api (test modules cannot import this conftest)."""

    world: JobWorld

    @property
    def client(self) -> Any:
        return self.world.client

    async def register(self, team: SeededTeam, url: str, events: list[str]) -> dict[str, Any]:
        response = await self.world.client.post(
            "/api/webhooks", json={"url": url, "events": events}, headers=team.headers
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def finish_job(self, team: SeededTeam, status: str = "completed", **extra: Any) -> str:
        created = await self.world.client.post(
            "/api/jobs/create",
            json={"job_type": "summary", "metadata": {"order": "A-17"}},
            headers=team.headers,
        )
        assert created.status_code == 201, created.text
        job_id: str = created.json()["job_id"]
        done = await self.world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": status, **extra}, headers=team.headers
        )
        assert done.status_code == 200, done.text
        return job_id

    async def deliveries(self, team: SeededTeam, endpoint_id: str) -> list[dict[str, Any]]:
        response = await self.world.client.get(
            f"/api/webhooks/{endpoint_id}/deliveries", headers=team.headers
        )
        assert response.status_code == 200, response.text
        rows: list[dict[str, Any]] = response.json()
        return rows


@pytest.fixture
def open_hooks(database_url: str, redis_url: str, redis_prefix: str) -> Any:
    """``async with open_hooks(**settings) as hooks`` → :class:`Hooks` over a fresh api (its lifespan must
    run in the test's own task, so this is a context manager rather than a yielding fixture)."""

    @contextlib.asynccontextmanager
    async def _open(**extra: str) -> AsyncIterator[Hooks]:
        settings: dict[str, Any] = {**WEBHOOK_SETTINGS, **extra}
        async with job_world(database_url, redis_url, redis_prefix, **settings) as world:
            yield Hooks(world)

    return _open
