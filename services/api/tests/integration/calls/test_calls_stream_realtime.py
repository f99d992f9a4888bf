"""Streaming over real sockets: tokens arrive as the provider sends them, and a client that leaves
stops the upstream call and still gets its call recorded."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx

from tests.fakes import Behavior
from tests.jobs_support import GROUP, job_world
from tollgate_api.calls import repository as calls_repo

MESSAGES = [{"role": "user", "content": "Tell me a slow story"}]


async def test_first_delta_arrives_before_the_provider_finishes(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, serve=True) as world:
        team = await world.seed_team()
        job = (await world.client.post("/api/jobs/create", json={}, headers=team.headers)).json()
        # 6 content chunks, 0.3 s apart: the provider needs > 2 s to finish.
        world.fake.push(Behavior(content="abcdefghijkl", n_chunks=6, chunk_delay_s=0.3))
        started = time.perf_counter()
        first_delta_at = None
        async with world.client.stream(
            "POST",
            f"/api/jobs/{job['job_id']}/llm-call-stream",
            json={"model": GROUP, "messages": MESSAGES},
            headers=team.headers,
        ) as response:
            async for line in response.aiter_lines():
                if first_delta_at is None and '"type":"delta"' in line:
                    first_delta_at = time.perf_counter() - started
        total = time.perf_counter() - started
        assert first_delta_at is not None
        assert first_delta_at < 1.0 < total


async def test_client_disconnect_stops_the_upstream_call_and_records_what_was_used(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(database_url, redis_url, redis_prefix, serve=True) as world:
        team = await world.seed_team()
        job = (await world.client.post("/api/jobs/create", json={}, headers=team.headers)).json()
        world.fake.push(Behavior(content="x" * 400, n_chunks=40, chunk_delay_s=0.1))
        async with (
            httpx.AsyncClient(base_url=world.base_url, timeout=10) as client,
            client.stream(
                "POST",
                f"/api/jobs/{job['job_id']}/llm-call-stream",
                json={"model": GROUP, "messages": MESSAGES},
                headers=team.headers,
            ) as response,
        ):
            async for line in response.aiter_lines():
                if '"type":"delta"' in line:
                    break  # leave after the first token
        calls: list[calls_repo.LlmCall] = []
        for _ in range(100):
            async with world.pool.connection() as conn:
                calls = await calls_repo.list_for_job(conn, uuid.UUID(job["job_id"]))
            if calls and world.router.disconnects:
                break
            await asyncio.sleep(0.05)
        [call] = calls
        assert call.status == "cancelled"
        assert call.error_kind == "client_disconnected"
        assert call.completion_tokens >= 1
        assert world.router.disconnects == 1  # the router saw its caller (the api) go away
