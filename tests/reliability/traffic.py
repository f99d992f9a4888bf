"""Mixed job traffic against a running api: create, two JSON calls, one streamed call, complete.

Every request is timed and its outcome kept (endpoint, status, seconds, and what was acknowledged:
job ids whose complete answered 200, call ids the api returned). Fault tests use the acknowledgements
to prove nothing acknowledged was lost or duplicated; the soak turns the samples into figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import httpx
import msgspec

MODEL_GROUP = "chat-fast"
REQUEST_TIMEOUT_S = 15.0  # a request that takes longer counts as a hang


@dataclass
class Sample:
    endpoint: str
    status: int  # 0: transport error or timeout (no HTTP answer)
    seconds: float
    retry_after: str | None = None
    error: str | None = None
    started: float = 0.0  # time.monotonic() when the request was sent


@dataclass
class Traffic:
    samples: list[Sample] = field(default_factory=list)
    acked_jobs: set[str] = field(default_factory=set)  # complete answered 200
    acked_calls: dict[str, str] = field(default_factory=dict)  # call id → job id (200 / stream done)
    jobs_started: int = 0
    flows_ok: int = 0

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def statuses(self, since: float = 0.0) -> Counter[int]:
        return Counter(s.status for s in self.samples[int(since) :])

    def summary(self) -> dict[str, Any]:
        by_endpoint: dict[str, list[Sample]] = defaultdict(list)
        for s in self.samples:
            by_endpoint[s.endpoint].append(s)
        endpoints = {}
        for name, items in sorted(by_endpoint.items()):
            times = sorted(s.seconds for s in items)
            errors = sum(1 for s in items if not 200 <= s.status < 300)
            endpoints[name] = {
                "requests": len(items),
                "errors": errors,
                "p50_ms": round(percentile(times, 50) * 1000, 1),
                "p99_ms": round(percentile(times, 99) * 1000, 1),
                "max_ms": round(times[-1] * 1000, 1) if times else 0.0,
                "statuses": dict(sorted(Counter(s.status for s in items).items())),
            }
        total = len(self.samples)
        errors = sum(1 for s in self.samples if not 200 <= s.status < 300)
        return {
            "requests": total,
            "errors": errors,
            "error_rate": (errors / total) if total else 0.0,
            "jobs_started": self.jobs_started,
            "jobs_completed": len(self.acked_jobs),
            "flows_ok": self.flows_ok,
            "calls_acknowledged": len(self.acked_calls),
            "endpoints": endpoints,
        }


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values) + 0.5) - 1))
    return sorted_values[index]


def make_client(base_url: str, headers: dict[str, str]) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=httpx.Timeout(REQUEST_TIMEOUT_S, connect=3.0),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
    )


async def _post(
    client: httpx.AsyncClient, traffic: Traffic, endpoint: str, path: str, body: dict[str, Any]
) -> httpx.Response | None:
    started, sent = time.perf_counter(), time.monotonic()
    try:
        response = await client.post(path, json=body)
    except httpx.HTTPError as exc:
        traffic.add(
            Sample(endpoint, 0, time.perf_counter() - started, error=type(exc).__name__, started=sent)
        )
        return None
    traffic.add(
        Sample(
            endpoint,
            response.status_code,
            time.perf_counter() - started,
            retry_after=response.headers.get("retry-after"),
            error=None if response.status_code < 400 else response.text[:200],
            started=sent,
        )
    )
    return response


async def _stream(client: httpx.AsyncClient, traffic: Traffic, job_id: str, prompt: str) -> str | None:
    """The streamed call: the call id of its ``done`` event, or None."""
    started, sent = time.perf_counter(), time.monotonic()
    call_id: str | None = None
    status = 0
    error: str | None = None
    retry_after = None
    try:
        async with client.stream(
            "POST",
            f"/api/jobs/{job_id}/llm-call-stream",
            json={"model": MODEL_GROUP, "messages": [{"role": "user", "content": prompt}]},
        ) as response:
            status = response.status_code
            retry_after = response.headers.get("retry-after")
            if status != 200:
                error = (await response.aread()).decode(errors="replace")[:200]
            else:
                async for line in response.aiter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    event = msgspec.json.decode(line[6:])
                    if event.get("type") == "done":
                        call_id = event.get("call_id")
                    elif event.get("type") == "error":
                        error = str(event.get("error"))[:200]
                        status = int(event.get("error", {}).get("status") or 599)
    except httpx.HTTPError as exc:
        error = type(exc).__name__
        status = status if status != 200 else 0
    if status == 200 and call_id is None:
        status, error = 598, error or "stream ended without done"
    traffic.add(Sample("llm-call-stream", status, time.perf_counter() - started, retry_after, error, sent))
    return call_id


async def job_flow(client: httpx.AsyncClient, traffic: Traffic, n: int) -> bool:
    """One job: create, 2 JSON calls, 1 streamed call, complete. False at the first failure."""
    created = await _post(client, traffic, "jobs/create", "/api/jobs/create", {"job_type": "demo"})
    if created is None or created.status_code not in (200, 201):
        return False
    job_id = created.json()["job_id"]
    traffic.jobs_started += 1
    ok = True
    for i in range(2):
        body = {"model": MODEL_GROUP, "messages": [{"role": "user", "content": f"job {n} call {i}"}]}
        answer = await _post(client, traffic, "llm-call", f"/api/jobs/{job_id}/llm-call", body)
        if answer is None or answer.status_code != 200:
            ok = False
            break
        traffic.acked_calls[answer.json()["call_id"]] = job_id
    if ok:
        call_id = await _stream(client, traffic, job_id, f"job {n} streamed")
        if call_id is None:
            ok = False
        else:
            traffic.acked_calls[call_id] = job_id
    status = "completed" if ok else "failed"
    done = await _post(client, traffic, "complete", f"/api/jobs/{job_id}/complete", {"status": status})
    if done is not None and done.status_code == 200:
        traffic.acked_jobs.add(job_id)
        if ok:
            traffic.flows_ok += 1
        return ok
    return False


async def drive(
    client: httpx.AsyncClient,
    traffic: Traffic,
    *,
    rate_per_s: float,
    duration_s: float,
    stop: asyncio.Event | None = None,
    max_in_flight: int = 32,
) -> None:
    """Start one job flow every ``1 / rate_per_s`` seconds (open loop, bounded in flight) until
    ``duration_s`` passed or ``stop`` is set, then wait for the flows in flight."""
    interval = 1.0 / rate_per_s
    started = time.monotonic()
    tasks: set[asyncio.Task[bool]] = set()
    gate = asyncio.Semaphore(max_in_flight)
    n = 0

    async def one(i: int) -> bool:
        async with gate:
            return await job_flow(client, traffic, i)

    while time.monotonic() - started < duration_s and not (stop is not None and stop.is_set()):
        task = asyncio.create_task(one(n))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        n += 1
        next_at = started + n * interval
        with contextlib.suppress(TimeoutError):
            delay = max(0.0, next_at - time.monotonic())
            if stop is not None:
                await asyncio.wait_for(stop.wait(), delay)
            else:
                await asyncio.sleep(delay)
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
