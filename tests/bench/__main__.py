"""The router benchmark: ``python -m tests.bench`` (``make bench``); ``--with-peers`` adds LiteLLM.

What it does, all on loopback:

1. starts the fast fake OpenAI upstream (``python -m tests.fakes --kind openai``);
2. creates a throw-away router database (Postgres and Redis from ``TEST_DATABASE_URL`` /
   ``TEST_REDIS_URL``, else embedded servers), starts the router as a real process under uvicorn
   (``--workers``, access log off), and seeds it through its admin API: a provider pointing at the fake,
   a deployment with prices, and a virtual key with RPM, TPM and a budget (so every request runs auth,
   the limits script in Redis, pricing and the spend log);
3. loads each target with ``wrk`` (Debian ``wrk``; if missing, says so and uses a small aiohttp load
   generator) at each concurrency: direct to the upstream, through the router (and through the
   LiteLLM proxy when ``tests/bench/.peers-venv`` exists and ``--with-peers`` is given);
4. prints a markdown table (req/s, p50, p99, added latency vs direct at the same concurrency) and the
   router's RSS before and after the run, and writes it to ``tests/bench/results/latest.md``.

It installs nothing. For the peers: ``python -m venv tests/bench/.peers-venv &&
tests/bench/.peers-venv/bin/pip install 'litellm[proxy]'`` (see ../shared/design/PEERS.md).
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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import psycopg

from tests.harness.services import postgres_url, redis_url, with_database
from tollgate_common.crypto import Keyring
from tollgate_common.migrate import apply_migrations

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RESULTS = HERE / "results"
PEERS_VENV = HERE / ".peers-venv"
ADMIN_TOKEN = "bench-admin-token"
KEY_LIMITS = {"rpm": 1_000_000_000, "tpm": 2_000_000_000, "budget_micro_usd": 10**15}
MODEL = "bench-model"
BODY = {
    "model": MODEL,
    "messages": [{"role": "user", "content": "Say hello to the benchmark."}],
    "max_tokens": 32,
}


@dataclass
class Cell:
    target: str
    concurrency: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    stream: bool = False
    cpu_us: float | None = None  # the server's CPU time (all its processes) per request


# ---------------------------------------------------------------------------------------- processes
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str,
    timeout_s: float = 30.0,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
            with urllib.request.urlopen(request, timeout=5) as response:
                if response.status < 500:
                    return
        except Exception as exc:
            last = exc
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not become ready: {last}")


@contextlib.contextmanager
def process(
    args: list[str], *, env: dict[str, str] | None = None, ready: str | None = None
) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        args,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE if ready else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        if ready and proc.stdout is not None:
            line = proc.stdout.readline()
            if ready not in line:
                raise RuntimeError(f"{args[:3]} did not start: {line!r}")
            proc.ready_line = line  # type: ignore[attr-defined]
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its children (the server's workers)."""
    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def rss_mb(pid: int) -> float:
    root = psutil.Process(pid)
    total = 0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 1024 / 1024


def admin(base: str, method: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"authorization": f"Bearer {ADMIN_TOKEN}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------------------------------- load
WRK_SCRIPT = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %s"
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def run_wrk(
    url: str, key: str, body: dict[str, Any], concurrency: int, duration_s: int
) -> tuple[float, float, float, int, int]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (json.dumps(body), key))
    try:
        threads = max(1, min(2, concurrency))
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{duration_s}s",
                "--latency",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s|m)\b", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if sock:
        errors += sum(int(x) for x in sock.groups())
    return rps, _ms(*p50.groups()), _ms(*p99.groups()), total, errors  # type: ignore[union-attr]


async def _aiohttp_load(
    url: str, key: str, body: dict[str, Any], concurrency: int, duration_s: int, stream: bool
) -> tuple[float, float, float, int, int]:
    import aiohttp  # noqa: PLC0415

    latencies: list[float] = []
    errors = 0
    payload = json.dumps(body).encode()
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    deadline = time.perf_counter() + duration_s
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=payload, headers=headers) as response:
                        await response.read()
                        ok = response.status == 200
                except aiohttp.ClientError:
                    ok = False
                latencies.append(time.perf_counter() - started)
                errors += not ok

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    return len(latencies) / elapsed, pick(0.5), pick(0.99), len(latencies), errors


def load(
    url: str, key: str, concurrency: int, duration_s: int, *, stream: bool = False, use_wrk: bool = True
) -> tuple[float, float, float, int, int]:
    body = dict(BODY)
    if stream:
        body["stream"] = True
    if use_wrk:
        return run_wrk(url, key, body, concurrency, duration_s)
    return asyncio.run(_aiohttp_load(url, key, body, concurrency, duration_s, stream))


# ---------------------------------------------------------------------------------------- targets
@contextlib.contextmanager
def fake_upstream(workers: int) -> Iterator[str]:
    with process(
        [sys.executable, "-m", "tests.fakes", "--kind", "openai", "--port", "0", "--workers", str(workers)],
        ready="tollgate-fake",
    ) as proc:
        line = proc.ready_line  # type: ignore[attr-defined]
        yield re.search(r"base_url=(\S+)", line).group(1)  # type: ignore[union-attr]


@contextlib.contextmanager
def router_process(upstream: str, workers: int, *, key_limits: bool = True) -> Iterator[tuple[str, str, int]]:
    """The router as a real process on a throw-away database; yields (base url, virtual key, pid)."""
    with postgres_url() as pg, redis_url() as redis:
        name = f"tollgate_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(pg, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(pg, name)
        try:
            apply_migrations(url, schema="router", directory=REPO / "db" / "router" / "migrations")
            port = free_port()
            env = {
                "TOLLGATE_DATABASE_URL": url,
                "TOLLGATE_REDIS_URL": redis,
                "TOLLGATE_REDIS_PREFIX": f"bench{uuid.uuid4().hex[:6]}:",
                "TOLLGATE_MIGRATE_ON_START": "false",
                "TOLLGATE_ROUTER_PORT": str(port),
                "TOLLGATE_ROUTER_WORKERS": str(workers),
                "TOLLGATE_ROUTER_ADMIN_TOKEN": ADMIN_TOKEN,
                "TOLLGATE_ROUTER_ENCRYPTION_KEYS": Keyring.new_key_setting("bench"),
                "TOLLGATE_ACCESS_LOG": "false",
                "TOLLGATE_LOG_LEVEL": "WARNING",
                "TOLLGATE_LOG_FORMAT": "json",
            }
            with process([sys.executable, "-m", "tollgate_router"], env=env) as proc:
                base = f"http://127.0.0.1:{port}"
                wait_http(base + "/health/ready")
                provider = admin(
                    base,
                    "POST",
                    "/admin/providers",
                    {"name": "fake", "kind": "openai", "base_url": upstream, "api_key": "sk-bench"},
                )
                admin(
                    base,
                    "POST",
                    "/admin/deployments",
                    {
                        "model_name": MODEL,
                        "provider_id": provider["id"],
                        "upstream_model": "gpt-4o-mini",
                        "input_price_micro_usd_per_mtok": 150_000,
                        "output_price_micro_usd_per_mtok": 600_000,
                        "cached_input_price_micro_usd_per_mtok": 75_000,
                        "cache_write_price_micro_usd_per_mtok": 0,
                    },
                )
                key = admin(
                    base,
                    "POST",
                    "/admin/keys",
                    {"owner_ref": "bench", "budget_period": "month", **(KEY_LIMITS if key_limits else {})},
                )["key"]
                body = json.dumps(BODY).encode()
                headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
                wait_http(base + "/v1/chat/completions", method="POST", body=body, headers=headers)
                yield base, key, proc.pid
        finally:
            with psycopg.connect(pg, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def litellm_process(upstream: str, workers: int) -> Iterator[tuple[str, str, int]]:
    port = free_port()
    config = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)  # noqa: SIM115
    config.write(
        "model_list:\n"
        f"  - model_name: {MODEL}\n"
        "    litellm_params:\n"
        "      model: openai/gpt-4o-mini\n"
        f"      api_base: {upstream}\n"
        "      api_key: sk-bench\n"
        "general_settings:\n"
        "  master_key: sk-litellm-bench\n"
        "  disable_spend_logs: true\n"
        "litellm_settings:\n"
        "  callbacks: []\n"
    )
    config.close()
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
        "LITELLM_MODE": "PRODUCTION",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    args = [
        str(PEERS_VENV / "bin" / "litellm"),
        "--config",
        config.name,
        "--port",
        str(port),
        "--num_workers",
        str(workers),
    ]
    try:
        with process(args, env=env) as proc:
            base = f"http://127.0.0.1:{port}"
            headers = {"authorization": "Bearer sk-litellm-bench", "content-type": "application/json"}
            wait_http(
                base + "/v1/chat/completions",
                120,
                method="POST",
                body=json.dumps(BODY).encode(),
                headers=headers,
            )
            yield base, "sk-litellm-bench", proc.pid
    finally:
        os.unlink(config.name)


# ---------------------------------------------------------------------------------------- report
def table(cells: list[Cell]) -> str:
    direct = {(c.concurrency, c.stream): c for c in cells if c.target == "direct"}
    lines = [
        "| target | stream | concurrency | req/s | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| server CPU µs/req | requests | errors |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        base = direct.get((c.concurrency, c.stream))
        added = "—" if c.target == "direct" or base is None else f"{c.p50_ms - base.p50_ms:.2f}"
        added99 = "—" if c.target == "direct" or base is None else f"{c.p99_ms - base.p99_ms:.2f}"
        cpu = "—" if c.cpu_us is None else f"{c.cpu_us:,.0f}"
        lines.append(
            f"| {c.target} | {'yes' if c.stream else 'no'} | {c.concurrency} | {c.rps:,.0f} "
            f"| {c.p50_ms:.2f} | "
            f"{c.p99_ms:.2f} | {added} | {added99} | {cpu} | {c.requests:,} | {c.errors} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--concurrency", default="1,16,64", help="comma-separated (default 1,16,64)")
    parser.add_argument("--duration", type=int, default=10, help="seconds per cell (default 10)")
    parser.add_argument("--workers", type=int, default=2, help="router (and LiteLLM) worker processes")
    parser.add_argument("--upstream-workers", type=int, default=1, help="fake upstream processes")
    parser.add_argument("--stream", action="store_true", help="also measure streamed calls")
    parser.add_argument(
        "--no-key-limits",
        action="store_true",
        help="a key without RPM/TPM/budget (no Redis on the request path): isolates the limits' cost",
    )
    parser.add_argument("--with-peers", action="store_true", help="also run the LiteLLM proxy (.peers-venv)")
    parser.add_argument(
        "--rss-requests",
        type=int,
        default=100_000,
        help="requests sent to the router between the two RSS readings (at least)",
    )
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x]
    use_wrk = shutil.which("wrk") is not None
    if not use_wrk:
        print(
            "wrk missing: install it (apt-get install -y wrk); using the aiohttp load generator instead",
            file=sys.stderr,
        )
    if args.with_peers and not (PEERS_VENV / "bin" / "litellm").exists():
        print(
            f"--with-peers: {PEERS_VENV} missing; create it with: python -m venv {PEERS_VENV} && "
            f"{PEERS_VENV}/bin/pip install 'litellm[proxy]'",
            file=sys.stderr,
        )
        args.with_peers = False

    cells: list[Cell] = []

    def measure(target: str, url: str, key: str, stream: bool = False, pid: int | None = None) -> None:
        load(url, key, min(levels), 1, stream=stream, use_wrk=use_wrk)  # warm-up
        for c in levels:
            before = cpu_s(pid) if pid else 0.0
            rps, p50, p99, total, errors = load(url, key, c, args.duration, stream=stream, use_wrk=use_wrk)
            cpu = 1e6 * (cpu_s(pid) - before) / total if pid and total else None
            cells.append(Cell(target, c, rps, p50, p99, total, errors, stream, cpu))
            print(
                f"  {target:<10} stream={stream!s:<5} c={c:<3} {rps:>9,.0f} req/s  p50 {p50:7.2f} ms  "
                f"p99 {p99:8.2f} ms  cpu/req {cpu or 0:6.0f} µs  errors {errors}",
                file=sys.stderr,
                flush=True,
            )

    rss: dict[str, float] = {}
    served = 0
    with fake_upstream(args.upstream_workers) as upstream:
        print(f"fake upstream at {upstream}", file=sys.stderr)
        measure("direct", upstream + "/chat/completions", "sk-bench")
        if args.stream:
            measure("direct", upstream + "/chat/completions", "sk-bench", stream=True)
        with router_process(upstream, args.workers, key_limits=not args.no_key_limits) as (base, key, pid):
            rss["before"] = rss_mb(pid)
            measure("router", base + "/v1/chat/completions", key, pid=pid)
            if args.stream:
                measure("router", base + "/v1/chat/completions", key, stream=True, pid=pid)
            served = sum(c.requests for c in cells if c.target == "router")
            while served < args.rss_requests:
                *_cell, total, _errors = load(base + "/v1/chat/completions", key, 64, 10, use_wrk=use_wrk)
                served += total
            rss["after"] = rss_mb(pid)
        if args.with_peers:
            with litellm_process(upstream, args.workers) as (base, key, pid):
                measure("litellm", base + "/v1/chat/completions", key, pid=pid)
                if args.stream:
                    measure("litellm", base + "/v1/chat/completions", key, stream=True, pid=pid)

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    loadgen = "wrk" if use_wrk else "aiohttp load generator (wrk missing)"
    report = "\n".join(
        [
            f"# Router benchmark — {now}",
            "",
            f"`python -m tests.bench {' '.join(argv if argv is not None else sys.argv[1:])}`".replace(
                " `", "`"
            ),
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} CPUs (load generator, fake upstream and router "
            f"share them); load: {loadgen}, {args.duration} s per cell; router: uvicorn (uvloop, httptools), "
            f"{args.workers} workers, access log off, "
            + (
                "key without limits"
                if args.no_key_limits
                else "key with RPM + TPM + budget (limits script in Redis on every call)"
            )
            + ", spend log on.",
            "",
            table(cells),
            "",
            f"Router RSS (all processes): {rss.get('before', 0):.1f} MB before, "
            f"{rss.get('after', 0):.1f} MB after {served:,} requests.",
            "",
        ]
    )
    print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.md").write_text(report, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
