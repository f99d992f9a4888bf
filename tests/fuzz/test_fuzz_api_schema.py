"""schemathesis against tollgate-api's own OpenAPI schema, as a team, an operator and anonymous.

Every operation the running app publishes is fuzzed (new routes join automatically): no 5xx, every
response with a documented status conforms to its schema and content type, no stack trace in a body.
``TOLLGATE_FUZZ_EXAMPLES`` raises the examples per operation (``make reliability``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from tests.fuzz.fuzz_support import BackgroundWorld, fuzz_schema
from tests.jobs_support import JobWorld, job_world

ADMIN_EMAIL = "fuzz-admin@example.test"
ADMIN_PASSWORD = "fuzzing is a long enough password"


@dataclass
class Fuzzed:
    world: JobWorld
    identities: dict[str, dict[str, str]]


def api_world(
    database_url: str, redis_url: str, redis_prefix: str
) -> Callable[[], AbstractAsyncContextManager[Fuzzed]]:
    @asynccontextmanager
    async def build() -> AsyncIterator[Fuzzed]:
        async with job_world(
            database_url,
            redis_url,
            redis_prefix,
            serve=True,
            use_real_router=True,  # every router-backed admin route (reconciliation...) has its peer
            BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
            BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        ) as world:
            team = await world.seed_team(credits_amount=1_000)
            login = await world.client.post(
                "/admin/auth/login", json={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}
            )
            assert login.status_code == 200, login.text
            world.client.cookies.clear()
            created = await world.client.post(
                "/api/jobs/create", json={"job_type": "fuzz"}, headers=team.headers
            )
            assert created.status_code in (200, 201), created.text
            yield Fuzzed(
                world,
                {
                    "team": team.headers,
                    "operator": {"authorization": f"Bearer {login.json()['token']}"},
                    "anonymous": {},
                },
            )

    return build


def identity_for(path: str) -> list[str]:
    if path.startswith("/api"):
        return ["team"]
    if path.startswith(("/admin", "/dashboard")):
        return ["operator"]
    return []


def skip(method: str, path: str) -> bool:
    # Logging out would end the operator session the rest of the run uses.
    return path == "/admin/auth/logout"


def test_api_schema_fuzz_finds_no_5xx_no_lies_and_no_traces(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    with BackgroundWorld(api_world(database_url, redis_url, redis_prefix)) as bg:
        fuzzed = bg.value
        assert fuzzed.world.base_url is not None
        report = fuzz_schema(fuzzed.world.base_url, fuzzed.identities, identity_for=identity_for, skip=skip)
    assert report.operations > 40, report
    assert report.requests >= report.operations
    assert any(200 <= status < 300 for status in report.statuses), report.statuses
    assert not report.failures, "\n\n".join(report.failures)
    # only the pass-through to the router's admin API (fuzzed directly in test_fuzz_router_schema)
    assert all("{rest}" in op for op in report.unfuzzable), report.unfuzzable
