"""schemathesis against tollgate-router's OpenAPI schema, as a virtual key (the data plane), the admin
token (the control plane) and anonymous: no 5xx, documented responses conform, no stack trace.

The router runs over loopback in front of the fake OpenAI provider, with one provider, one deployment
and one virtual key that may use its model. ``TOLLGATE_FUZZ_EXAMPLES`` raises the examples per operation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

import httpx

from tests.fakes import FakeOpenAI
from tests.fuzz.fuzz_support import BackgroundWorld, fuzz_schema
from tests.jobs_support import ROUTER_MODEL, real_router


def router_world(
    database_url: str, redis_url: str, redis_prefix: str
) -> Callable[[], AbstractAsyncContextManager[tuple[str, dict[str, dict[str, str]]]]]:
    @asynccontextmanager
    async def build() -> AsyncIterator[tuple[str, dict[str, dict[str, str]]]]:
        async with AsyncExitStack() as stack:
            fake = stack.enter_context(FakeOpenAI())
            router = await stack.enter_async_context(real_router(database_url, redis_url, redis_prefix, fake))
            admin = {"authorization": f"Bearer {router.admin_token}"}
            async with httpx.AsyncClient(base_url=router.url, headers=admin, timeout=10) as client:
                key = await client.post(
                    "/admin/keys",
                    json={"owner_ref": "team:fuzz", "allowed_models": [ROUTER_MODEL], "rpm": 100_000},
                )
                assert key.status_code == 201, key.text
            yield (
                router.url,
                {
                    "key": {"authorization": f"Bearer {key.json()['key']}"},
                    "admin": admin,
                    "anonymous": {},
                },
            )

    return build


def identity_for(path: str) -> list[str]:
    if path.startswith("/v1"):
        return ["key"]
    if path.startswith("/admin"):
        return ["admin"]
    return []


def test_router_schema_fuzz_finds_no_5xx_no_lies_and_no_traces(
    database_url: str, redis_url: str, redis_prefix: str
) -> None:
    with BackgroundWorld(router_world(database_url, redis_url, redis_prefix)) as bg:
        base_url, identities = bg.value
        report = fuzz_schema(base_url, identities, identity_for=identity_for)
    assert report.operations > 15, report
    assert report.requests >= report.operations
    assert any(200 <= status < 300 for status in report.statuses), report.statuses
    assert not report.failures, "\n\n".join(report.failures)
    assert not report.unfuzzable, report.unfuzzable
