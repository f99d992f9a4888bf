"""The full Tollgate stack as separate OS processes on embedded servers, for fault and soak runs.

Everything is private to one ``Stack``: an embedded Postgres and an embedded Redis on free loopback
ports in a temporary directory (never the machine's shared servers, which other runs use), the
processes ``make run`` starts (router, api, worker, scheduler) with the dev stack's own building blocks
(:mod:`tollgate_api.devstack`), and a scripted fake OpenAI upstream (``tests.fakes``) in this process.

A fault test kills and restarts pieces of it: :meth:`Stack.kill` (SIGKILL to a process group),
:meth:`Stack.restart`, :meth:`Stack.stop_postgres` / :meth:`Stack.start_postgres`, and the same for
Redis.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import psycopg

from tests.fakes import FakeOpenAI
from tollgate_api.devstack import database, seed
from tollgate_api.devstack.stack import process_specs, wait_ready
from tollgate_api.devstack.supervisor import Child, ProcessSpec, Supervisor, _group_alive
from tollgate_common.crypto import Keyring
from tollgate_common.embedded import EmbeddedPostgres, EmbeddedRedis, free_port

REPO = Path(__file__).resolve().parents[2]
DATABASE = "tollgate"
ROUTER_MODEL = seed.DEMO_ROUTER_MODEL  # the demo's model group ``chat-fast`` points at it
MODEL_GROUP = "chat-fast"
UPSTREAM_MODEL = "gpt-fake-reliability"
EXTRA_CREDITS = 10_000_000


@dataclass
class Team:
    team_id: str
    key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.key}"}


def _pgrp(pid: int) -> int | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[2])


def group_pids(pgid: int) -> list[int]:
    """Live processes of process group ``pgid`` (a service and the workers it forked)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _pgrp(int(entry.name)) == pgid:
            with contextlib.suppress(OSError):
                state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
                if state not in {"Z", "X"}:
                    pids.append(int(entry.name))
    return pids


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


@dataclass
class Stack:
    """See the module docstring. Use :func:`running_stack`."""

    workdir: Path
    pg: EmbeddedPostgres
    redis: EmbeddedRedis
    fake: FakeOpenAI
    log: IO[str]
    env: dict[str, str] = field(default_factory=dict)
    sup: Supervisor | None = None
    children: dict[str, Child] = field(default_factory=dict)
    team: Team | None = None
    admin_token: str = ""
    operator_token: str = ""
    api_port: int = 0
    router_port: int = 0
    secrets: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ urls
    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def router_url(self) -> str:
        return f"http://127.0.0.1:{self.router_port}"

    @property
    def database_url(self) -> str:
        return database.with_database(self.pg.url, DATABASE)

    def connect(self) -> psycopg.Connection[Any]:
        return psycopg.connect(self.database_url, autocommit=True, connect_timeout=5)

    # ------------------------------------------------------------------ processes
    def specs(self) -> dict[str, ProcessSpec]:
        """The processes ``make run`` starts (router, api, worker, and whatever it adds), our env."""
        return {
            spec.name: ProcessSpec(spec.name, spec.argv, self.env, cwd=REPO)
            for spec in process_specs(self.env, worker=True)
        }

    def start(self, name: str) -> Child:
        assert self.sup is not None
        child = self.sup.start(self.specs()[name])
        self.children[name] = child
        return child

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        assert self.sup is not None
        wait_ready(self.sup, {"router": self.router_url, "api": self.api_url}, timeout_s=timeout_s)

    def kill(self, name: str) -> None:
        """SIGKILL the service's whole process group (the crash of a node), and reap it."""
        child = self.children.pop(name)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
        child.proc.wait(10)
        deadline = time.monotonic() + 10
        while _group_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert self.sup is not None
        self.sup.children.remove(child)

    def restart(self, name: str) -> Child:
        if name in self.children:
            self.kill(name)
        return self.start(name)

    def pids(self) -> dict[str, list[int]]:
        out = {name: group_pids(child.pid) for name, child in self.children.items()}
        pg_pid = self.postgres_pid()
        out["postgres"] = group_pids(_pgrp(pg_pid) or pg_pid) if pg_pid else []
        if self.redis._proc is not None:
            out["redis"] = [self.redis._proc.pid]
        return out

    def postgres_pid(self) -> int | None:
        pid_file = self.pg.data_dir / "postmaster.pid"
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(pid_file.read_text().split()[0])
        return None

    def rss(self) -> dict[str, int]:
        """Resident memory (bytes) of every service, all processes of its group added up."""
        return {name: sum(rss_bytes(p) for p in pids) for name, pids in self.pids().items()}

    # ------------------------------------------------------------------ dependencies
    def stop_postgres(self) -> None:
        self.pg.stop()

    def start_postgres(self) -> None:
        self.pg.start()

    def stop_redis(self) -> None:
        self.redis.stop()

    def start_redis(self) -> None:
        self.redis.start()

    def admin(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """An operator call to the api's admin API."""
        headers = {"authorization": f"Bearer {self.operator_token}"}
        return httpx.request(method, self.api_url + path, json=json, headers=headers, timeout=15)

    # ------------------------------------------------------------------ seed
    def seed(self) -> Team:
        """Router: an OpenAI-compatible provider in front of the fake, deployment ``mock-chat`` without
        retries; api: the demo (org, plan, model group ``chat-fast``, team and key) plus many credits."""
        admin = {"authorization": f"Bearer {self.admin_token}"}
        with httpx.Client(timeout=15) as client:
            provider = client.post(
                f"{self.router_url}/admin/providers",
                headers=admin,
                json={
                    "name": "fake-openai",
                    "kind": "openai",
                    "base_url": self.fake.base_url,
                    "api_key": "sk-reliability-upstream",
                },
            )
            assert provider.status_code == 201, provider.text
            deployment = client.post(
                f"{self.router_url}/admin/deployments",
                headers=admin,
                json={
                    "model_name": ROUTER_MODEL,
                    "provider_id": provider.json()["id"],
                    "upstream_model": UPSTREAM_MODEL,
                    "max_retries": 0,
                    "timeout_s": 3,  # the upstream-timeout fault waits this out
                    **seed.DEMO_PRICES,
                },
            )
            assert deployment.status_code == 201, deployment.text
            target = seed.SeedTarget.from_secrets(self.api_url, self.router_url, self.secrets)
            demo = seed.seed_api(client, target, demo_file=self.workdir / "demo.env")
            login = client.post(
                f"{self.api_url}/admin/auth/login",
                json={"email": target.admin_email, "password": target.admin_password},
            )
            token = login.json()["token"]
            self.operator_token = token
            granted = client.post(
                f"{self.api_url}/admin/teams/{demo.team_id}/credits",
                headers={"authorization": f"Bearer {token}"},
                json={
                    "amount": EXTRA_CREDITS,
                    "kind": "allocation",
                    "reason": "reliability run",
                    "idempotency_key": f"reliability-{uuid.uuid4().hex}",
                },
            )
            assert granted.status_code in (200, 201), granted.text
        # The router's catalog notices admin changes within its check interval (500 ms).
        time.sleep(0.7)
        self.team = Team(team_id=demo.team_id, key=demo.team_key)
        return self.team


def _service_env(stack: Stack, extra: Mapping[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    env.update(stack.secrets)
    env.update(
        {
            "TOLLGATE_DATABASE_URL": stack.database_url,
            "TOLLGATE_REDIS_URL": stack.redis.url,
            "TOLLGATE_REDIS_PREFIX": "tollgate:",
            "TOLLGATE_API_PORT": str(stack.api_port),
            "TOLLGATE_ROUTER_PORT": str(stack.router_port),
            "TOLLGATE_ROUTER_URL": stack.router_url,
            "TOLLGATE_MIGRATE_ON_START": "false",
            "TOLLGATE_LOG_FORMAT": "json",
            "TOLLGATE_LOG_LEVEL": "WARNING",
            "TOLLGATE_ACCESS_LOG": "false",
            # A deployment that failed 3 times in a row cools down; keep that short so one fault does
            # not decide the next test's outcome.
            "TOLLGATE_ROUTER_COOLDOWN_S": "2",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return env


@contextmanager
def running_stack(*, extra_env: Mapping[str, str] | None = None, keep: bool = False) -> Iterator[Stack]:
    """Start embedded servers, migrate, start router/api/worker, seed; stop everything afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix="tollgate-reliability-"))
    pg = EmbeddedPostgres(workdir / "pg", fast_unsafe=True)
    redis = EmbeddedRedis(workdir / "redis", persist=True)
    log = (workdir / "services.log").open("w", encoding="utf-8")
    with FakeOpenAI(api_key="sk-reliability-upstream") as fake:
        stack = Stack(workdir=workdir, pg=pg, redis=redis, fake=fake, log=log)
        try:
            pg.start()
            redis.start()
            database.ensure_database(stack.database_url)
            database.migrate(stack.database_url)
            stack.admin_token = "tgr_admin_" + uuid.uuid4().hex
            stack.secrets = {
                "TOLLGATE_ROUTER_ADMIN_TOKEN": stack.admin_token,
                "TOLLGATE_ROUTER_ENCRYPTION_KEYS": Keyring.new_key_setting("rel1"),
                "TOLLGATE_API_ENCRYPTION_KEYS": Keyring.new_key_setting("rel1"),
                "TOLLGATE_BOOTSTRAP_ADMIN_EMAIL": "admin@example.com",
                "TOLLGATE_BOOTSTRAP_ADMIN_PASSWORD": uuid.uuid4().hex,
            }
            stack.api_port, stack.router_port = free_port(), free_port()
            stack.env = _service_env(stack, extra_env or {})
            stack.sup = Supervisor(out=log, stop_timeout_s=10, color=False)
            for name in stack.specs():
                stack.start(name)
            stack.wait_ready()
            stack.seed()
            yield stack
        finally:
            if stack.sup is not None:
                stack.sup.stop()
            with contextlib.suppress(Exception):
                redis.stop()
            with contextlib.suppress(Exception):
                pg.stop()
            log.close()
            if not keep:
                shutil.rmtree(workdir, ignore_errors=True)
