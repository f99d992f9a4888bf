"""Fixtures for the upkeep tests: a job world (api + real router + fake provider) with an operator,
a pool in the test's loop, and small helpers to make jobs, calls and read rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
import pytest

from tests.fakes import Behavior
from tests.jobs_support import GROUP, JobWorld, SeededTeam, job_world
from tollgate_api.worker.broker import install, stub_broker

ADMIN_EMAIL = "upkeep-admin@example.test"
ADMIN_PASSWORD = "upkeep admin password 42"
MESSAGES = [{"role": "user", "content": "Summarise the invoice"}]


@dataclass
class Upkeep:
    world: JobWorld
    database_url: str
    admin_headers: dict[str, str]

    @property
    def pool(self) -> Any:
        return self.world.pool

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database_url) as conn:
            return conn.execute(sql, params).fetchall()

    def execute(self, sql: str, *params: Any) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(sql, params)

    async def job_with_calls(self, team: SeededTeam, calls: int = 1, *, complete: bool = True) -> uuid.UUID:
        created = await self.world.client.post(
            "/api/jobs/create", json={"job_type": "t"}, headers=team.headers
        )
        assert created.status_code in (200, 201), created.text
        job_id = created.json()["job_id"]
        for i in range(calls):
            self.world.fake.push(Behavior(content="ok", prompt_tokens=100 + i, completion_tokens=20 + i))
            call = await self.world.client.post(
                f"/api/jobs/{job_id}/llm-call",
                json={"model": GROUP, "messages": MESSAGES},
                headers=team.headers,
            )
            assert call.status_code == 200, call.text
        if complete:
            done = await self.world.client.post(
                f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team.headers
            )
            assert done.status_code == 200, done.text
        return uuid.UUID(job_id)


@asynccontextmanager
async def upkeep_world_cm(
    database_url: str, redis_url: str, redis_prefix: str, *, real_router: bool
) -> AsyncIterator[Upkeep]:
    async with job_world(
        database_url,
        redis_url,
        redis_prefix,
        use_real_router=real_router,
        BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
    ) as world:
        login = await world.client.post(
            "/admin/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        world.client.cookies.clear()
        headers = {"authorization": f"Bearer {login.json()['token']}"}
        try:
            yield Upkeep(world, database_url, headers)
        finally:
            install(stub_broker(), world.settings)


class World(Protocol):
    def __call__(self, *, real_router: bool = False) -> AbstractAsyncContextManager[Upkeep]: ...


@pytest.fixture
def upkeep_world(database_url: str, redis_url: str, redis_prefix: str) -> World:
    """``async with upkeep_world() as w:`` (entered in the test's own task, as the app's lifespan needs);
    ``real_router=True`` puts tollgate-router itself (not the stand-in) between the api and the fake."""

    def make(*, real_router: bool = False) -> AbstractAsyncContextManager[Upkeep]:
        return upkeep_world_cm(database_url, redis_url, redis_prefix, real_router=real_router)

    return make
