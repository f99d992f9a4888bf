"""``tollgate dev`` end to end, as a newcomer runs it: start, read the banner, run a job, Ctrl-C.

Runs against the test run's Postgres and Redis (URLs set, so nothing embedded) with a fresh database,
a private Redis prefix and free ports; every process the stack starts carries that prefix in its
environment, which is how the test proves none of them outlives the Ctrl-C.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.harness.services import with_database
from tollgate_common.embedded import free_port, port_in_use

READY_MARK = "Press Ctrl-C to stop everything."


@dataclass
class DevProcess:
    proc: subprocess.Popen[str]
    env: dict[str, str]
    marker: str
    lines: list[str] = field(default_factory=list)
    events: queue.Queue[str] = field(default_factory=queue.Queue)

    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None and self.events.empty():
                break
            with contextlib.suppress(queue.Empty):
                self.events.get(timeout=0.2)
        pytest.fail(f"`tollgate dev` never printed {text!r}; output:\n{self.output()[-6000:]}")


def _pump(dev: DevProcess) -> None:
    stream = dev.proc.stdout
    assert stream is not None
    with stream:
        for line in stream:
            dev.lines.append(line.rstrip("\n"))
            dev.events.put(line)


def _processes_with(marker: str) -> list[int]:
    """Live processes whose environment contains ``marker`` (our stack's unique Redis prefix)."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes():
                continue
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue
        if state not in {"Z", "X"}:
            found.append(int(entry.name))
    return found


def _processes_running(*needles: bytes) -> list[int]:
    """Live processes whose command line contains any of ``needles``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if any(needle in cmdline for needle in needles):
            found.append(int(entry.name))
    return found


@pytest.fixture
def dev_stack(
    request: pytest.FixtureRequest, pg_server_url: str, redis_url: str, redis_prefix: str, tmp_path: Path
) -> Iterator[DevProcess]:
    database = f"tollgate_dev_{uuid.uuid4().hex[:10]}"
    api_port, router_port = free_port(), free_port()
    marker = f"TOLLGATE_REDIS_PREFIX={redis_prefix}"
    params = dict(getattr(request, "param", {}))
    embedded = params.pop("embedded", False)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    env.update(
        {
            "TOLLGATE_REDIS_PREFIX": redis_prefix,
            "TOLLGATE_API_PORT": str(api_port),
            "TOLLGATE_ROUTER_PORT": str(router_port),
            "TOLLGATE_DEV_DIR": str(tmp_path / "dev"),
            "TOLLGATE_LOG_LEVEL": "WARNING",
            **params,
        }
    )
    if embedded:  # what `make run` does on a bare machine: no URLs, so embedded servers
        env.update({"TOLLGATE_DEV_PG_PORT": str(free_port()), "TOLLGATE_DEV_REDIS_PORT": str(free_port())})
    else:
        env.update(
            {"TOLLGATE_DATABASE_URL": with_database(pg_server_url, database), "TOLLGATE_REDIS_URL": redis_url}
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "tollgate_api.cli", "dev"],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    dev = DevProcess(proc=proc, env=env, marker=marker)
    pump = threading.Thread(target=_pump, args=(dev,), daemon=True)
    pump.start()
    try:
        yield dev
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
        leftovers = _processes_with(marker)
        if "TOLLGATE_DEV_PG_PORT" in env:  # only if the test failed half-way
            leftovers += _processes_running(
                str(tmp_path / "dev" / "pg").encode(), f"127.0.0.1:{env['TOLLGATE_DEV_REDIS_PORT']}".encode()
            )
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        pump.join(5)  # the pump closes the pipe at EOF (closing it here could block on its lock)
        with psycopg.connect(pg_server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _printed(dev: DevProcess, name: str) -> str:
    for line in dev.lines:
        match = re.match(rf"^\s+{name}=(\S+)$", line)
        if match:
            return match.group(1)
    pytest.fail(f"no {name}= line in the banner:\n{dev.output()[-4000:]}")


def _operator_token(dev: DevProcess, api: str) -> str:
    login = next((m for line in dev.lines if (m := re.search(r"Operator login\s+(\S+) / (\S+)", line))), None)
    assert login is not None, dev.output()[-4000:]
    response = httpx.post(
        f"{api}/admin/auth/login", json={"email": login.group(1), "password": login.group(2)}, timeout=15
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token


def _margin_visible_after(dev: DevProcess, api: str, job_id: str, *, since: float) -> float:
    """Seconds from ``since`` until the job is in the per-job margin report and the team rollup."""
    headers = {"Authorization": f"Bearer {_operator_token(dev, api)}"}
    with httpx.Client(base_url=api, headers=headers, timeout=15) as admin:
        while time.monotonic() - since < 10:
            jobs = admin.get("/admin/reports/jobs")
            assert jobs.status_code == 200, jobs.text
            listed = [row for row in jobs.json()["rows"] if row["job_id"] == job_id]
            if listed:
                margin = admin.get("/admin/reports/margin", params={"group_by": "team"})
                assert margin.status_code == 200, margin.text
                assert margin.json()["totals"]["jobs"] >= 1
                assert "margin_micro_usd" in listed[0]
                return time.monotonic() - since
            time.sleep(0.05)
    pytest.fail(f"job {job_id} never appeared in /admin/reports")


def _curl_block(dev: DevProcess) -> str:
    start = next(i for i, line in enumerate(dev.lines) if re.match(r"^\s+KEY=", line))
    end = next(i for i, line in enumerate(dev.lines) if READY_MARK in line)
    return textwrap.dedent("\n".join(line for line in dev.lines[start:end] if line.strip()))


def _seed_demo(dev: DevProcess) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tollgate_api.cli", "seed-demo"],
        env=dev.env,
        cwd=Path(dev.env["TOLLGATE_DEV_DIR"]).parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _load_docs_example() -> Any:
    path = Path(__file__).resolve().parents[2] / "docs" / "examples" / "job_api_example.py"
    spec = importlib.util.spec_from_file_location("job_api_example", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_dev_stack_runs_a_whole_job_and_ctrl_c_leaves_nothing(dev_stack: DevProcess) -> None:
    dev = dev_stack
    dev.wait_for(READY_MARK, timeout=60)
    key = _printed(dev, "KEY")
    api = _printed(dev, "API")
    assert key.startswith("tg")

    # The job through the API, as a client would.
    auth = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=api, headers=auth, timeout=15) as client:
        created = client.post("/api/jobs/create", json={"job_type": "demo"})
        assert created.status_code in (200, 201), created.text
        job_id = created.json()["job_id"]
        call = client.post(
            f"/api/jobs/{job_id}/llm-call",
            json={"model": "chat-fast", "messages": [{"role": "user", "content": "Hello"}]},
        )
        assert call.status_code == 200, call.text
        assert call.json()["response"]["content"]
        done = client.post(f"/api/jobs/{job_id}/complete", json={"status": "completed"})
        completed_at = time.monotonic()
        assert done.status_code == 200, done.text
        assert done.json()["costs"]["credit_applied"] > 0

    # The worker aggregates it: its margin is in the operators' reports within 2 s of complete.
    assert _margin_visible_after(dev, api, job_id, since=completed_at) <= 2.0

    # The printed curl sequence works as pasted.
    pasted = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", _curl_block(dev)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert pasted.returncode == 0, pasted.stderr
    assert '"credit_applied"' in pasted.stdout, pasted.stdout

    # The job API guide's example (docs/examples/job_api_example.py) runs as documented.
    example = _load_docs_example()
    result = example.run(api, key)
    assert result["content"]
    assert result["streamed"]
    assert result["stream_call_id"]
    assert result["credit_applied"] > 0
    assert result["available"] == result["credits_remaining"]

    # Seeding again changes nothing and hands back the same key; a lost key is replaced.
    again = _seed_demo(dev)
    assert f"team key     {key}" in again
    (Path(dev.env["TOLLGATE_DEV_DIR"]) / "demo.env").unlink()
    replaced = re.search(r"team key     (\S+)", _seed_demo(dev))
    assert replaced is not None
    assert replaced.group(1) != key
    balance = httpx.get(
        f"{api}/api/credits/balance", headers={"Authorization": f"Bearer {replaced.group(1)}"}
    )
    assert balance.status_code == 200, balance.text
    with psycopg.connect(dev.env["TOLLGATE_DATABASE_URL"]) as conn:
        orgs = conn.execute("SELECT count(*) FROM api.organizations WHERE name = 'Demo Org'").fetchone()
        teams = conn.execute("SELECT count(*) FROM api.teams WHERE name = 'Demo Team'").fetchone()
        allocations = conn.execute(
            "SELECT count(*), sum(amount) FROM api.ledger_entries WHERE kind = 'allocation'"
        ).fetchone()
    assert orgs == (1,)
    assert teams == (1,)
    assert allocations == (1, 1000)

    # Ctrl-C: everything stops, nothing is left.
    dev.proc.send_signal(signal.SIGINT)
    assert dev.proc.wait(30) == 0, dev.output()[-3000:]
    deadline = time.monotonic() + 5
    while _processes_with(dev.marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(dev.marker) == []
    assert not port_in_use(int(dev.env["TOLLGATE_API_PORT"]))
    assert not port_in_use(int(dev.env["TOLLGATE_ROUTER_PORT"]))


@pytest.mark.slow
@pytest.mark.parametrize(
    "dev_stack", [{"embedded": True, "TOLLGATE_DEV_SEED": "false"}], indirect=True, ids=["embedded"]
)
def test_dev_stack_on_embedded_servers_stops_everything_when_a_child_dies(dev_stack: DevProcess) -> None:
    dev = dev_stack
    state = Path(dev.env["TOLLGATE_DEV_DIR"])
    pg_port, redis_port = int(dev.env["TOLLGATE_DEV_PG_PORT"]), int(dev.env["TOLLGATE_DEV_REDIS_PORT"])
    # Postgres and Redis rewrite their environment (process titles), so find them by command line.
    embedded = (str(state / "pg").encode(), f"127.0.0.1:{redis_port}".encode())
    dev.wait_for(READY_MARK, timeout=90)
    assert "Tollgate is running (embedded Postgres, embedded Redis)." in dev.output()
    assert port_in_use(pg_port)
    assert port_in_use(redis_port)
    # Both servers are up: the postmaster named in its pid file, and Redis. (Counting processes by command
    # line is racy: a backend forked a moment ago still carries the postmaster's command line, and a Redis
    # background save runs as a child titled with the same address.)
    postmaster = int((state / "pg" / "postmaster.pid").read_text().split()[0])
    assert postmaster in _processes_running(embedded[0])
    assert _processes_running(embedded[1])
    api_port = int(dev.env["TOLLGATE_API_PORT"])
    assert httpx.get(f"http://127.0.0.1:{api_port}/health/ready", timeout=5).status_code == 200
    pids = {
        match.group(1): int(match.group(2))
        for line in dev.lines
        if (match := re.match(r"^tollgate dev: started (\w+) \(pid (\d+)\)$", line))
    }
    assert {"router", "api"} <= set(pids)

    os.kill(pids["api"], signal.SIGKILL)

    assert dev.proc.wait(45) == 1, dev.output()[-3000:]
    assert "tollgate dev: api exited unexpectedly" in dev.output()
    deadline = time.monotonic() + 5
    while (_processes_with(dev.marker) or _processes_running(*embedded)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _processes_with(dev.marker) == []
    assert _processes_running(*embedded) == []
    assert not port_in_use(pg_port)
    assert not port_in_use(redis_port)
    assert not (state / "pg" / "postmaster.pid").exists()
    assert (state / "pg" / "PG_VERSION").is_file(), "the embedded data must survive a restart"
    assert (state / "secrets.env").is_file()
