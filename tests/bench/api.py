"""The job API benchmark, end to end: ``python -m tests.bench.api`` (part of ``make bench``).

What it does, all on loopback and on private servers:

1. starts the fast fake OpenAI upstream (``tests.bench.__main__.fake_upstream``, a process);
2. starts the whole stack as ``make run`` does (router, api, worker, scheduler) on an embedded Postgres
   and Redis of its own (``tests.reliability.stack.running_stack``), seeds the demo team, and points
   the router's provider at the fast fake (the stack's in-process fake would share this process's
   CPU with the load generator);
3. for each concurrency c, runs c concurrent **job flows** for ``--duration`` s — ``POST
   /api/jobs/create`` → K times ``POST /api/jobs/{id}/llm-call`` → ``POST /api/jobs/{id}/complete`` — then
   c concurrent direct calls to the router's ``/v1/chat/completions`` with the team's own router key
   (decrypted from the api database), for the **added latency of the api** on an llm-call; then one
   streamed cell (``/llm-call-stream`` against ``stream: true``) at ``--stream-concurrency``;
4. reads the CPU time (user + system, every process of each service and their reaped children) before
   and after each cell, for the CPU per flow of each service;
5. checks correctness as it goes (every answer 2xx, streams end with ``[DONE]`` and no error event)
   and at the end in the api database: every team's balance equals the sum of its ledger (and the other
   ledger invariants of ``tests.reliability.checks``), and the completed jobs are exactly the flows
   the generator finished;
6. prints a markdown report and writes it to ``tests/bench/results/api-latest.md``.

The load generator is Python (asyncio, uvloop when present, one keep-alive aiohttp session) in this
process: it shares the machine's CPUs with everything it measures, and its own CPU per flow is in the
report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import json
import os
import platform
import re
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil

from tests.bench.__main__ import RESULTS, fake_upstream
from tests.reliability.checks import ledger_problems
from tests.reliability.stack import MODEL_GROUP, ROUTER_MODEL, Stack, running_stack
from tollgate_api.auth.keyring import virtual_key_aad
from tollgate_common.crypto import Keyring

MESSAGES = [{"role": "user", "content": "Say hello to the benchmark."}]
_ERROR_EVENT = re.compile(rb'"type":\s*"error"')
# Services whose CPU is read around each cell; "upstream" is the fake provider, "load" this process.
SERVICES = ("api", "router", "worker", "scheduler", "postgres", "redis", "upstream", "load")


# ---------------------------------------------------------------------------------------- samples
@dataclass
class Samples:
    """What one cell's load produced."""

    latencies: dict[str, list[float]] = field(default_factory=dict)  # endpoint -> seconds
    errors: dict[str, int] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)
    flows: int = 0  # flows whose complete answered 2xx
    requests: int = 0  # direct cells: calls answered
    elapsed: float = 0.0

    def record(self, endpoint: str, seconds: float, ok: bool, detail: str = "") -> None:
        self.latencies.setdefault(endpoint, []).append(seconds)
        if not ok:
            self.errors[endpoint] = self.errors.get(endpoint, 0) + 1
            if len(self.examples) < 5:
                self.examples.append(f"{endpoint}: {detail[:200]}")

    def pct(self, endpoint: str, q: float) -> float | None:
        values = sorted(self.latencies.get(endpoint, []))
        if not values:
            return None
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass
class Cell:
    kind: str  # "flow" or "direct"
    concurrency: int
    stream: bool
    samples: Samples
    cpu_s: dict[str, float]
    pg: dict[str, int] = field(default_factory=dict)  # pg_stat_database deltas (sessions, commits)

    @property
    def units(self) -> int:
        """Flows (flow cells) or router calls (direct cells)."""
        return self.samples.flows if self.kind == "flow" else self.samples.requests


# ---------------------------------------------------------------------------------------- CPU
class CpuMeter:
    """CPU seconds (user + system) of each service's processes, reaped children included.

    A process's own times plus the times of children it has reaped: Postgres backends and Dramatiq
    worker processes that end between two readings are then still counted, once, by their parent.
    """

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        me = psutil.Process()
        self.upstream = [p.pid for p in me.children() if "tests.fakes" in " ".join(_cmdline(p))]

    def _pids(self) -> dict[str, set[int]]:
        groups = {name: set(pids) for name, pids in self.stack.pids().items()}
        groups["upstream"] = set(self.upstream)
        out: dict[str, set[int]] = {}
        for name, pids in groups.items():
            everything = set(pids)
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    everything.update(c.pid for c in psutil.Process(pid).children(recursive=True))
            out[name] = everything
        return out

    def read(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for name, pids in self._pids().items():
            total = 0.0
            for pid in pids:
                with contextlib.suppress(psutil.Error):
                    t = psutil.Process(pid).cpu_times()
                    total += t.user + t.system + t.children_user + t.children_system
            totals[name] = total
        own = psutil.Process().cpu_times()
        totals["load"] = own.user + own.system  # this process only (its children are services)
        return totals


def pg_counters(stack: Stack) -> dict[str, int]:
    """Sessions opened and transactions committed in the stack's database, from ``pg_stat_database``
    (backends report them when idle, about once a second: approximate over a short cell)."""
    with stack.connect() as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(
            "SELECT sessions, xact_commit FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return {"sessions": int(row[0]), "commits": int(row[1])}


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


# ---------------------------------------------------------------------------------------- load
async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str], *, stream: bool
) -> tuple[bool, bytes, str]:
    """POST and read the whole answer; (ok, body, detail for the error list)."""
    try:
        async with session.post(url, data=body, headers=headers) as response:
            raw = await response.read()
            ok = 200 <= response.status < 300
            if ok and stream:
                ok = raw.rstrip().endswith(b"data: [DONE]") and not _ERROR_EVENT.search(raw)
            return ok, raw, f"{response.status} {raw[:160]!r}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return False, b"", f"{type(exc).__name__}: {exc}"


async def _run_workers(concurrency: int, duration_s: float, one: Callable[[], Awaitable[None]]) -> float:
    deadline = time.perf_counter() + duration_s

    async def worker() -> None:
        while time.perf_counter() < deadline:
            await one()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - began


async def run_flows(
    session: aiohttp.ClientSession,
    api_url: str,
    team_key: str,
    *,
    concurrency: int,
    duration_s: float,
    calls: int,
    stream: bool,
) -> Samples:
    """``concurrency`` workers, each running flows back to back until the deadline (a flow under way
    at the deadline is finished)."""
    samples = Samples()
    headers = {"authorization": f"Bearer {team_key}", "content-type": "application/json"}
    create_body = json.dumps({"job_type": "bench"}).encode()
    call_body = json.dumps({"model": MODEL_GROUP, "messages": MESSAGES, "max_tokens": 32}).encode()
    complete_body = json.dumps({"status": "completed"}).encode()
    call_path = "llm-call-stream" if stream else "llm-call"
    clock = time.perf_counter

    async def flow() -> None:
        started = clock()
        ok, raw, detail = await _post(
            session, f"{api_url}/api/jobs/create", create_body, headers, stream=False
        )
        samples.record("create", clock() - started, ok, detail)
        if not ok:
            return
        job_id = json.loads(raw)["job_id"]
        for _ in range(calls):
            started = clock()
            ok, _raw, detail = await _post(
                session, f"{api_url}/api/jobs/{job_id}/{call_path}", call_body, headers, stream=stream
            )
            samples.record("llm-call", clock() - started, ok, detail)
        started = clock()
        ok, _raw, detail = await _post(
            session, f"{api_url}/api/jobs/{job_id}/complete", complete_body, headers, stream=False
        )
        samples.record("complete", clock() - started, ok, detail)
        samples.flows += ok

    samples.elapsed = await _run_workers(concurrency, duration_s, flow)
    return samples


async def run_direct(
    session: aiohttp.ClientSession,
    router_url: str,
    router_key: str,
    *,
    concurrency: int,
    duration_s: float,
    stream: bool,
) -> Samples:
    """The same call straight to the router with the team's router key (what the api sends)."""
    samples = Samples()
    headers = {"authorization": f"Bearer {router_key}", "content-type": "application/json"}
    body: dict[str, Any] = {"model": ROUTER_MODEL, "messages": MESSAGES, "max_tokens": 32}
    if stream:
        body |= {"stream": True, "stream_options": {"include_usage": True}}
    payload = json.dumps(body).encode()
    url = f"{router_url}/v1/chat/completions"

    async def call() -> None:
        started = time.perf_counter()
        ok, _raw, detail = await _post(session, url, payload, headers, stream=stream)
        samples.record("llm-call", time.perf_counter() - started, ok, detail)
        samples.requests += 1

    samples.elapsed = await _run_workers(concurrency, duration_s, call)
    return samples


# ---------------------------------------------------------------------------------------- stack
@contextlib.contextmanager
def bench_stack(api_workers: int, router_workers: int, upstream_workers: int) -> Iterator[tuple[Stack, str]]:
    """The stack on private servers with its provider on the fast fake; yields (stack, router key)."""
    with fake_upstream(upstream_workers) as upstream:
        extra = {"TOLLGATE_API_WORKERS": str(api_workers), "TOLLGATE_ROUTER_WORKERS": str(router_workers)}
        with running_stack(extra_env=extra) as stack:
            admin = {"authorization": f"Bearer {stack.admin_token}"}
            with httpx.Client(base_url=stack.router_url, headers=admin, timeout=15) as client:
                providers = client.get("/admin/providers").json()
                for provider in providers:
                    if provider["name"] == "fake-openai":  # the one Stack.seed() created
                        patched = client.patch(
                            f"/admin/providers/{provider['id']}", json={"base_url": upstream}
                        )
                        patched.raise_for_status()
            key = _team_router_key(stack)
            _wait_upstream(stack, key, upstream)
            yield stack, key


def _team_router_key(stack: Stack) -> str:
    """The team's router virtual key, as the api holds it: AES-GCM encrypted in ``api.teams``."""
    assert stack.team is not None
    with stack.connect() as conn:
        row = conn.execute(
            "SELECT virtual_key_encrypted FROM api.teams WHERE id = %s", (stack.team.team_id,)
        ).fetchone()
    assert row is not None
    ring = Keyring.from_setting(stack.secrets["TOLLGATE_API_ENCRYPTION_KEYS"])
    return ring.decrypt(row[0], associated=virtual_key_aad(stack.team.team_id))


def _wait_upstream(stack: Stack, key: str, upstream: str, timeout_s: float = 10.0) -> None:
    """Until the router's catalog has the new base URL (it polls for admin changes)."""
    body = {"model": ROUTER_MODEL, "messages": MESSAGES, "max_tokens": 32}
    served_before = len(stack.fake.requests)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=10) as client:
        while time.monotonic() < deadline:
            answer = client.post(
                f"{stack.router_url}/v1/chat/completions",
                json=body,
                headers={"authorization": f"Bearer {key}"},
            )
            if answer.status_code == 200 and len(stack.fake.requests) == served_before:
                return
            served_before = len(stack.fake.requests)
            time.sleep(0.2)
    raise RuntimeError(f"the router did not switch to the fast upstream {upstream} in {timeout_s:g} s")


def check_database(stack: Stack, flows_finished: int) -> list[tuple[str, bool, str]]:
    """(check, passed, detail) from the api database."""
    assert stack.team is not None
    with stack.connect() as conn:
        problems = ledger_problems(conn)
        counts = dict(
            conn.execute(
                "SELECT status::text, count(*) FROM api.jobs WHERE team_id = %s GROUP BY status",
                (stack.team.team_id,),
            ).fetchall()
        )
        balance, ledger = conn.execute(
            """SELECT b.balance,
                      (SELECT coalesce(sum(CASE WHEN e.kind = 'capture' THEN -e.amount
                                                WHEN e.kind IN ('hold', 'release') THEN 0
                                                ELSE e.amount END), 0)
                         FROM api.ledger_entries e WHERE e.team_id = b.team_id)
                 FROM api.team_balances b WHERE b.team_id = %s""",
            (stack.team.team_id,),
        ).fetchone() or (None, None)
    completed = int(counts.get("completed", 0))
    others = {k: v for k, v in counts.items() if k != "completed"}
    return [
        ("team balance = Σ ledger", balance == ledger, f"balance {balance}, Σ ledger {ledger}"),
        (
            "ledger invariants (every team; holds settled once)",
            not problems,
            "; ".join(problems[:5]) or "none broken",
        ),
        (
            "completed jobs = flows finished",
            completed == flows_finished,
            f"{completed:,} completed jobs, {flows_finished:,} flows finished"
            + (f"; other jobs: {others}" if others else ""),
        ),
    ]


# ---------------------------------------------------------------------------------------- report
def _ms(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _pair(samples: Samples | None, endpoint: str) -> str:
    if samples is None:
        return "—"
    return f"{_ms(samples.pct(endpoint, 0.5))} / {_ms(samples.pct(endpoint, 0.99))}"


def latency_table(cells: list[Cell], calls: int) -> str:
    direct = {(c.concurrency, c.stream): c for c in cells if c.kind == "direct"}
    lines = [
        "| cell | stream | c | flows/s | llm-calls/s | create p50 / p99 ms | llm-call p50 / p99 ms "
        "| complete p50 / p99 ms | router direct p50 / p99 ms (req/s) | **added by the api** "
        "llm-call p50 / p99 ms | flows | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for cell in cells:
        if cell.kind != "flow":
            continue
        s = cell.samples
        base = direct.get((cell.concurrency, cell.stream))
        added = "—"
        base_text = "—"
        if base is not None:
            b = base.samples
            base_text = f"{_pair(b, 'llm-call')} ({b.requests / b.elapsed:,.0f})"
            p50, p99 = s.pct("llm-call", 0.5), s.pct("llm-call", 0.99)
            b50, b99 = b.pct("llm-call", 0.5), b.pct("llm-call", 0.99)
            if None not in (p50, p99, b50, b99):
                added = f"{p50 - b50:.2f} / {p99 - b99:.2f}"  # type: ignore[operator]
        errors = s.error_count + (base.samples.error_count if base else 0)
        calls_done = len(s.latencies.get("llm-call", []))
        lines.append(
            f"| flow, {calls} calls | {'yes' if cell.stream else 'no'} | {cell.concurrency} "
            f"| {s.flows / s.elapsed:,.1f} | {calls_done / s.elapsed:,.0f} | {_pair(s, 'create')} "
            f"| {_pair(s, 'llm-call')} | {_pair(s, 'complete')} | {base_text} | {added} | {s.flows:,} "
            f"| {errors} |"
        )
    return "\n".join(lines)


def cpu_table(cells: list[Cell]) -> str:
    lines = [
        "| cell | stream | c | "
        + " | ".join(SERVICES)
        + " | all | Postgres sessions opened | Postgres transactions |",
        "|---|---|---|" + "---|" * (len(SERVICES) + 3),
    ]
    for cell in cells:
        if not cell.units:
            continue
        unit = "ms/flow" if cell.kind == "flow" else "ms/call"
        per = [1000 * cell.cpu_s.get(name, 0.0) / cell.units for name in SERVICES]
        lines.append(
            f"| {cell.kind} ({unit}) | {'yes' if cell.stream else 'no'} | {cell.concurrency} | "
            + " | ".join(f"{v:.2f}" for v in per)
            + f" | {sum(per):.2f} | {cell.pg.get('sessions', 0) / cell.units:.2f} "
            f"| {cell.pg.get('commits', 0) / cell.units:.2f} |"
        )
    return "\n".join(lines)


def render(
    cells: list[Cell],
    checks: list[tuple[str, bool, str]],
    *,
    argv: list[str],
    args: argparse.Namespace,
    load_at_start: tuple[float, float, float],
) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    examples = [e for c in cells for e in c.samples.examples][:10]
    lines = [
        f"# Job API benchmark — {now}",
        "",
        f"`python -m tests.bench.api{''.join(' ' + a for a in argv)}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs shared by the load generator (Python, "
        f"asyncio + aiohttp, in the bench process), the fake upstream, Postgres, Redis, the router, the "
        f"api, the worker and the scheduler; load average at start {load_at_start[0]:.2f} / "
        f"{load_at_start[1]:.2f} / {load_at_start[2]:.2f}; Python {platform.python_version()}.",
        "",
        f"Stack: `make run`'s processes on an embedded Postgres (fsync off) and Redis; api: granian, "
        f"{args.api_workers} worker(s); router: uvicorn, {args.router_workers} worker(s); "
        f"one Dramatiq worker; fake upstream: {args.upstream_workers} process(es); team on a per-job "
        f"plan; {args.duration:g} s per cell; a flow is create → {args.calls} llm-calls → complete, "
        "c flows at a time (so at most c llm-calls at a time); the direct cell runs c calls at a time "
        "to the router with the team's own router key.",
        "",
        "## Throughput and latency",
        "",
        latency_table(cells, args.calls),
        "",
        "## CPU per flow (ms, user + system, all processes of each service)",
        "",
        "Flow cells per finished flow; direct cells per router call. `load` is the load generator; the "
        "worker aggregates finished jobs asynchronously, so its share may land in the next cell. The last "
        "two columns are Postgres sessions opened and transactions (`xact_commit`, read-only ones too) "
        "per flow (or call) in the stack's database (`pg_stat_database`, approximate: backends report "
        "about once a second; the bench's own two readings add one session each).",
        "",
        cpu_table(cells),
        "",
        "## Correctness",
        "",
        "| check | result | detail |",
        "|---|---|---|",
        *[f"| {name} | {'pass' if ok else '**FAIL**'} | {detail} |" for name, ok, detail in checks],
        "",
    ]
    if examples:
        lines += ["Errors (first few):", "", *[f"- `{e}`" for e in examples], ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------- main
async def _measure(stack: Stack, router_key: str, args: argparse.Namespace) -> tuple[list[Cell], int]:
    assert stack.team is not None
    team_key = stack.team.key
    meter = CpuMeter(stack)
    levels = [int(x) for x in args.concurrency.split(",") if x]
    cells: list[Cell] = []
    finished = 0
    timeout = aiohttp.ClientTimeout(total=60, sock_connect=5)
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def flows(c: int, duration: float, stream: bool) -> Samples:
            return await run_flows(
                session,
                stack.api_url,
                team_key,
                concurrency=c,
                duration_s=duration,
                calls=args.calls,
                stream=stream,
            )

        async def direct(c: int, duration: float, stream: bool) -> Samples:
            return await run_direct(
                session, stack.router_url, router_key, concurrency=c, duration_s=duration, stream=stream
            )

        plan: list[tuple[str, int, bool]] = []
        for c in levels:
            plan.append(("flow", c, False))
            if args.direct:
                plan.append(("direct", c, False))
        if args.stream_concurrency:
            plan.append(("flow", args.stream_concurrency, True))
            if args.direct:
                plan.append(("direct", args.stream_concurrency, True))

        if args.warmup:
            for kind, stream in {(k, s) for k, _c, s in plan}:
                run = flows if kind == "flow" else direct
                warm = await run(1, args.warmup, stream)
                finished += warm.flows
        for kind, c, stream in plan:
            run = flows if kind == "flow" else direct
            pg_before, before = pg_counters(stack), meter.read()
            samples = await run(c, args.duration, stream)
            after, pg_after = meter.read(), pg_counters(stack)
            finished += samples.flows
            cpu = {name: after.get(name, 0.0) - before.get(name, 0.0) for name in after}
            pg = {name: pg_after[name] - pg_before[name] for name in pg_after}
            cell = Cell(kind, c, stream, samples, cpu, pg)
            cells.append(cell)
            rate = (samples.flows if kind == "flow" else samples.requests) / samples.elapsed
            print(
                f"  {kind:<6} stream={stream!s:<5} c={c:<3} {rate:>8,.1f} "
                f"{'flows' if kind == 'flow' else 'calls'}/s  llm-call p50 "
                f"{_ms(samples.pct('llm-call', 0.5))} ms  p99 {_ms(samples.pct('llm-call', 0.99))} ms  "
                f"errors {samples.error_count}",
                file=sys.stderr,
                flush=True,
            )
    return cells, finished


@dataclass
class Result:
    cells: list[Cell]
    checks: list[tuple[str, bool, str]]
    report: str

    @property
    def errors(self) -> int:
        return sum(c.samples.error_count for c in self.cells)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.bench.api",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--concurrency", default="1,16,64", help="concurrent flows, comma-separated (default 1,16,64)"
    )
    p.add_argument("--duration", type=float, default=10, help="seconds per cell (default 10)")
    p.add_argument("--calls", type=int, default=3, help="llm-calls per flow (default 3)")
    p.add_argument(
        "--stream-concurrency",
        type=int,
        default=16,
        help="the streamed cell's concurrency; 0: no streamed cell",
    )
    p.add_argument("--no-direct", dest="direct", action="store_false", help="skip the direct router cells")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per kind of cell (c=1)")
    p.add_argument(
        "--api-workers", type=int, default=1, help="api (granian) workers (default 1, as make run)"
    )
    p.add_argument("--router-workers", type=int, default=1, help="router (uvicorn) workers (default 1)")
    p.add_argument("--upstream-workers", type=int, default=1, help="fake upstream processes")
    p.add_argument("--output", type=Path, default=RESULTS / "api-latest.md", help="where to write the report")
    return p


def bench(argv: list[str]) -> Result:
    args = parser().parse_args(argv)
    load_at_start = os.getloadavg()
    try:
        import uvloop  # noqa: PLC0415 - optional: a cheaper load generator

        runner: Callable[[Awaitable[tuple[list[Cell], int]]], tuple[list[Cell], int]] = uvloop.run  # type: ignore[assignment]
    except ImportError:
        runner = asyncio.run  # type: ignore[assignment]
    with bench_stack(args.api_workers, args.router_workers, args.upstream_workers) as (stack, router_key):
        print(f"stack up: api {stack.api_url}, router {stack.router_url}", file=sys.stderr, flush=True)
        cells, finished = runner(_measure(stack, router_key, args))
        time.sleep(0.2)  # let the last completes commit everywhere they write
        checks = check_database(stack, finished)
    report = render(cells, checks, argv=argv, args=args, load_at_start=load_at_start)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report, encoding="utf-8")
    return Result(cells, checks, report)


def main(argv: list[str] | None = None) -> int:
    result = bench(sys.argv[1:] if argv is None else argv)
    print(result.report)
    return 0 if result.errors == 0 and all(ok for _name, ok, _detail in result.checks) else 1


if __name__ == "__main__":
    sys.exit(main())
