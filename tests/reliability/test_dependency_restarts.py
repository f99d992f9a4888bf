"""Postgres and Redis restarted under load (embedded servers owned by the test, never shared ones).

Common expectations, checked for both: while the dependency is down, every request that fails gets
an HTTP answer within the client's 15 s (no hang, no transport error) that is a clean 503 with
``Retry-After`` (streams: an ``error`` event with status 503) — never a 500; the services recover by
themselves (same processes, no restart) and the load succeeds again within a few seconds; no
acknowledged llm-call or ledger entry is lost or duplicated; resident memory of api and router stays
bounded while the dependency is down.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.reliability import checks
from tests.reliability.stack import Stack
from tests.reliability.traffic import Sample, Traffic, drive, make_client, percentile
from tollgate_api.settings import ApiSettings
from tollgate_api.worker import actors
from tollgate_api.worker.broker import build_broker, install
from tollgate_common.env import Env

RATE = 8.0  # job flows per second (each: 5 requests)
BEFORE_S = 3.0
DOWN_S = 4.0
AFTER_S = 10.0
RECOVERY_S = 5.0  # after the dependency is back, flows started this much later must all succeed
RSS_GROWTH_LIMIT = 64 * 1024 * 1024


@dataclass
class FaultRun:
    traffic: Traffic
    down_at: float = 0.0
    up_at: float = 0.0
    rss_before: dict[str, int] = field(default_factory=dict)
    rss_peak_down: dict[str, int] = field(default_factory=dict)
    mark: int = 0  # index of the first sample taken once the dependency was stopped

    @property
    def samples_since_down(self) -> list[Sample]:
        return self.traffic.samples[self.mark :]


def _load_with_fault(stack: Stack, stop_dep: Callable[[], None], start_dep: Callable[[], None]) -> FaultRun:
    assert stack.team is not None
    headers = stack.team.headers
    run = FaultRun(Traffic())
    pids_before = {name: child.pid for name, child in stack.children.items()}

    async def main() -> None:
        stop = asyncio.Event()
        async with make_client(stack.api_url, headers) as client:
            load = asyncio.create_task(
                drive(client, run.traffic, rate_per_s=RATE, duration_s=BEFORE_S + DOWN_S + AFTER_S, stop=stop)
            )
            await asyncio.sleep(BEFORE_S)
            run.rss_before = stack.rss()
            run.down_at = time.monotonic()
            run.mark = len(run.traffic.samples)
            await asyncio.to_thread(stop_dep)
            peak: dict[str, int] = {}
            while time.monotonic() - run.down_at < DOWN_S:
                for name, rss in stack.rss().items():
                    peak[name] = max(peak.get(name, 0), rss)
                await asyncio.sleep(0.25)
            run.rss_peak_down = peak
            await asyncio.to_thread(start_dep)
            run.up_at = time.monotonic()
            await load

    asyncio.run(main())
    for name, pid in pids_before.items():  # recovered by themselves: nobody restarted them
        assert stack.children[name].pid == pid, name
        assert stack.children[name].returncode is None, name
    return run


def _recovered_flows(stack: Stack, *, flows: int = 6) -> Traffic:
    assert stack.team is not None
    headers = stack.team.headers
    traffic = Traffic()

    async def main() -> None:
        async with make_client(stack.api_url, headers) as client:
            await drive(client, traffic, rate_per_s=10, duration_s=flows / 10)

    asyncio.run(main())
    return traffic


def _assert_clean_failures(traffic: Traffic) -> None:
    hangs = [s for s in traffic.samples if s.status == 0]
    assert not hangs, f"requests without an HTTP answer: {hangs[:5]}"
    bad = [s for s in traffic.samples if s.status >= 500 and s.status != 503]
    assert not bad, f"failures other than 503: {bad[:5]}"
    no_retry_after = [s for s in traffic.samples if s.status == 503 and s.retry_after is None]
    # A 503 reported inside an SSE stream is an event, not a response: it carries no header.
    no_retry_after = [s for s in no_retry_after if s.endpoint != "llm-call-stream"]
    assert not no_retry_after, f"503 without Retry-After: {no_retry_after[:5]}"
    slow = [s for s in traffic.samples if s.seconds > 14]
    assert not slow, f"requests near the client timeout: {slow[:5]}"


def _assert_nothing_lost(stack: Stack, traffic: Traffic) -> None:
    settings = ApiSettings.from_env(Env(stack.env))
    install(build_broker(settings), settings)
    actors.sweep_job_outbox.send(0)  # the scheduler's safety net for enqueues lost while Redis was down
    with stack.connect() as conn:
        assert not checks.acknowledged_problems(conn, traffic)
        assert not checks.ledger_problems(conn)
        checks.wait_aggregated(conn, timeout_s=60)
        assert not checks.cost_mismatches(conn)
        # The router's spend log retries its buffer until Postgres is back: it loses nothing the api
        # recorded. (It may hold calls the api could not record: those answered 503.)
        deadline = time.monotonic() + 20
        while (report := checks.reconciliation(conn))["only_in_api_count"] and time.monotonic() < deadline:
            time.sleep(0.5)
        assert report["only_in_api_count"] == 0, report
        assert report["cost_differs_count"] == 0, report
        print("reconciliation after the fault:", report)


def _assert_memory_bounded(run: FaultRun) -> None:
    for name in ("api", "router"):
        growth = run.rss_peak_down.get(name, 0) - run.rss_before.get(name, 0)
        assert growth < RSS_GROWTH_LIMIT, f"{name} grew {growth / 2**20:.1f} MiB while a dependency was down"


def test_postgres_restart_under_load(stack: Stack) -> None:
    """Expectation: Postgres stopped (fast shutdown) for 4 s under 8 job flows/s, then started again:
    failures are 503 + Retry-After within the timeout, never 500 or a hang; the pools reconnect by
    themselves; flows started 5 s after Postgres is back all succeed; every acknowledged call and
    completion is stored exactly once and the ledger balances."""
    run = _load_with_fault(stack, stack.stop_postgres, stack.start_postgres)
    _assert_clean_failures(run.traffic)
    assert run.traffic.summary()["errors"] > 0, "the outage was not noticed: the test proves nothing"
    after = _recovered_flows(stack)
    assert after.summary()["errors"] == 0, after.summary()
    _assert_nothing_lost(stack, run.traffic)
    _assert_memory_bounded(run)
    print("postgres restart:", run.traffic.summary()["endpoints"])


def test_redis_restart_under_load(stack: Stack) -> None:
    """Expectation: Redis stopped for 4 s under 8 job flows/s, then started again (its snapshot
    reloaded): requests either succeed (auth falls back to Postgres, enqueues fall back to the outbox)
    or fail as 503 + Retry-After, never 500 or a hang; the Redis clients reconnect by themselves; flows
    after recovery all succeed; nothing acknowledged is lost; aggregation catches up through the outbox."""
    assert stack.team is not None
    # Limits on the team's key: the router must consult Redis on every call (it fails closed).
    limited = stack.admin(
        "PATCH", f"/admin/teams/{stack.team.team_id}", {"rpm": 1_000_000, "tpm": 100_000_000}
    )
    assert limited.status_code == 200, limited.text
    time.sleep(1.0)
    run = _load_with_fault(stack, stack.stop_redis, stack.start_redis)
    _assert_clean_failures(run.traffic)
    assert run.traffic.summary()["errors"] > 0, "the outage was not noticed: the test proves nothing"
    # Creating and completing jobs does not need Redis: no slower while it is down than before it
    # (the 2-core machine is shared, so compare with this run's own baseline).
    fast = {"jobs/create", "complete"}
    before = sorted(s.seconds for s in run.traffic.samples[: run.mark] if s.endpoint in fast)
    during = sorted(s.seconds for s in run.samples_since_down if s.endpoint in fast)
    limit = max(2.5, 3 * percentile(before, 99))
    slow = [
        (s.endpoint, s.status, round(s.started - run.down_at, 2), round(s.seconds, 2))
        for s in run.samples_since_down
        if s.endpoint in fast and s.seconds >= limit
    ]
    assert percentile(during, 99) < limit, (
        f"p99 {percentile(during, 99):.2f} s during vs {percentile(before, 99):.2f} s before; slow "
        f"(endpoint, status, sent s after Redis stopped, seconds): {slow[:10]}"
    )
    after = _recovered_flows(stack)
    assert after.summary()["errors"] == 0, after.summary()
    _assert_nothing_lost(stack, run.traffic)
    _assert_memory_bounded(run)
    print("redis restart:", run.traffic.summary()["endpoints"])
