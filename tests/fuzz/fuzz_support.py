"""Running a service world on a loop of its own, and fuzzing its OpenAPI schema with schemathesis.

schemathesis and hypothesis are synchronous; the apps, their pools and clients live on one event loop.
``BackgroundWorld`` enters an async context manager on a dedicated thread's loop (lifespan, serving on
loopback, seeding), so the sync test drives the app over real HTTP and nothing crosses two loops.

``fuzz_schema`` walks every operation the running app publishes (no route list is hardcoded: new
routes are fuzzed as they appear), draws cases with schemathesis, sends each as one of the identities
(team, operator, anonymous) and collects every failure: a 5xx, a response that does not conform to the
schema where a status is documented, a body with a stack trace.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

T = TypeVar("T")

EXAMPLES = int(os.environ.get("TOLLGATE_FUZZ_EXAMPLES", "3"))
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/', "site-packages/")


class BackgroundWorld(Generic[T]):
    """``with BackgroundWorld(cm_factory) as world:`` — ``world.value`` is what the context yields."""

    def __init__(self, factory: Callable[[], AbstractAsyncContextManager[T]]) -> None:
        self._factory = factory
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stop: asyncio.Event | None = None
        self._task: Any = None
        self.value: T

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the world's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=120)

    def __enter__(self) -> BackgroundWorld[T]:
        self._thread.start()
        ready: asyncio.Future[T]

        async def hold() -> None:
            self._stop = asyncio.Event()
            try:
                async with self._factory() as value:
                    ready.set_result(value)
                    await self._stop.wait()
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc)
                raise

        async def start() -> T:
            nonlocal ready
            ready = asyncio.get_running_loop().create_future()
            self._task = asyncio.ensure_future(hold())
            return await ready

        self.value = self.run(start())
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            assert self._stop is not None
            self._stop.set()
            await self._task

        try:
            self.run(stop())  # type: ignore[arg-type]
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()


def no_stack_trace(_ctx: Any, response: Any, _case: Any) -> bool:
    text = response.text if isinstance(response.text, str) else ""
    assert not any(marker in text for marker in TRACE_MARKERS), "a stack trace in a response body"
    return True


CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, no_stack_trace]


@dataclass
class FuzzReport:
    operations: int = 0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    # operations schemathesis cannot generate a request for (e.g. a ``{rest:path}`` parameter that
    # Litestar documents as ``format: uri``, which no URL path segment can hold)
    unfuzzable: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per operation, to keep the run short


def _unfuzzable(document: dict[str, Any], method: str, path: str) -> bool:
    """A path parameter documented as ``format: uri`` (Litestar's ``{rest:path}``): no URL path segment
    can hold one, and hypothesis spends seconds failing to generate it."""
    parameters = document["paths"].get(path, {}).get(method.lower(), {}).get("parameters", [])
    return any(p.get("in") == "path" and p.get("schema", {}).get("format") == "uri" for p in parameters)


def fuzz_schema(
    base_url: str,
    identities: dict[str, dict[str, str]],
    *,
    identity_for: Callable[[str], list[str]],
    examples: int = EXAMPLES,
    skip: Callable[[str, str], bool] = lambda _method, _path: False,
    after_each: Callable[[], Awaitable[None]] | None = None,
) -> FuzzReport:
    """Fuzz every operation of the schema served at ``base_url/schema/openapi.json``.

    ``identity_for(path)`` names the identities worth trying on a path (anonymous is always tried too);
    each case is sent as one of them, drawn by hypothesis.
    """
    raw = requests.get(f"{base_url}/schema/openapi.json", timeout=30)
    raw.raise_for_status()
    document = raw.json()
    schema = schemathesis.openapi.from_dict(document)
    report = FuzzReport()
    session = requests.Session()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            report.failures.append(f"unloadable operation: {result.err()}")
            continue
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if skip(method, path):
            continue
        if _unfuzzable(document, method, path):
            report.unfuzzable.append(f"{method} {path}")
            continue
        report.operations += 1
        names = [*identity_for(path), "anonymous"]

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy(), who=st.sampled_from(names))
        def run(case: schemathesis.Case[Any], who: str) -> None:
            headers = identities[who]
            response = case.call(base_url=base_url, session=session, headers=headers, timeout=30)
            report.requests += 1
            report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
            case.validate_response(response, checks=CHECKS, headers=headers)

        started = time.monotonic()
        try:
            run()
        except Unsatisfiable:
            report.unfuzzable.append(f"{method} {path}")
        except Exception as exc:  # collect, to report every broken operation at once
            report.failures.append(f"{method} {path}: {str(exc)[:1500]}")
        report.seconds[f"{method} {path}"] = round(time.monotonic() - started, 2)
    session.close()
    return report
