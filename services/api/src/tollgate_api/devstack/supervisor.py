"""Supervised child processes for ``tollgate dev``: start, prefix their output, watch, stop.

Each child runs in its own session (process group), so a Ctrl-C on the terminal reaches only the
supervisor, which then stops the children in order: SIGTERM to each child, a grace period, then
SIGKILL to whatever is left in its process group (granian and Dramatiq fork workers of their own).
On Linux a child also gets SIGTERM if the supervisor itself dies without cleaning up.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Final

_PR_SET_PDEATHSIG: Final = 1
_COLORS: Final = ("\033[36m", "\033[35m", "\033[33m", "\033[32m", "\033[34m", "\033[31m")
_RESET: Final = "\033[0m"


def _load_prctl() -> Callable[[int, int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover - no libc to talk to
        return None
    prctl: Callable[[int, int], int] = libc.prctl
    return prctl


# Resolved before any fork: the child must not import or allocate between fork and exec.
_prctl = _load_prctl()


def _die_with_parent() -> None:
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """What to run: a display name, the command line and its complete environment."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    cwd: Path | None = None


@dataclass(slots=True)
class Child:
    spec: ProcessSpec
    proc: subprocess.Popen[bytes]
    pump: threading.Thread | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return self.proc.poll()


def _group_alive(pgid: int) -> bool:
    """Whether a live (non-zombie) process is left in process group ``pgid``."""
    proc = Path("/proc")
    if proc.is_dir():
        for entry in proc.iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat_line = (entry / "stat").read_text()
            except OSError:
                continue
            # pid (comm) state ppid pgrp ... — comm may contain spaces, so split after the ')'.
            fields = stat_line.rpartition(")")[2].split()
            if len(fields) >= 3 and fields[2] == str(pgid) and fields[0] not in {"Z", "X"}:
                return True
        return False
    try:  # pragma: no cover - non-Linux
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):  # pragma: no cover
        return False
    return True  # pragma: no cover


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class Supervisor:
    """Owns a set of child processes; :meth:`stop` leaves none of them (or their children) running."""

    def __init__(
        self,
        *,
        out: IO[str] | None = None,
        stop_timeout_s: float = 10.0,
        color: bool | None = None,
    ) -> None:
        self._out = out if out is not None else sys.stdout
        self._color = self._out.isatty() if color is None else color
        self.stop_timeout_s = stop_timeout_s
        self.children: list[Child] = []
        self._write_lock = threading.Lock()
        self._width = 6

    # ------------------------------------------------------------------ output
    def _prefix(self, index: int, name: str) -> str:
        label = name.ljust(self._width)
        if self._color:
            return f"{_COLORS[index % len(_COLORS)]}{label}{_RESET} | "
        return f"{label} | "

    def write(self, text: str) -> None:
        """Write lines to the supervisor's output without interleaving with children's lines."""
        with self._write_lock:
            self._out.write(text if text.endswith("\n") else text + "\n")
            self._out.flush()

    def _pump(self, child: Child, prefix: str) -> None:
        stream = child.proc.stdout
        if stream is None:  # pragma: no cover - we always pipe
            return
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            with self._write_lock:
                self._out.write(prefix + line + "\n")
                self._out.flush()
        stream.close()

    # ------------------------------------------------------------------ lifecycle
    def start(self, spec: ProcessSpec) -> Child:
        self._width = max(self._width, len(spec.name))
        proc = subprocess.Popen(  # noqa: S603 - argv is built by us, never a shell
            list(spec.argv),
            env=dict(spec.env),
            cwd=spec.cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - async-signal-safe: one prctl call
        )
        child = Child(spec=spec, proc=proc)
        child.pump = threading.Thread(
            target=self._pump,
            args=(child, self._prefix(len(self.children), spec.name)),
            name=f"pump-{spec.name}",
            daemon=True,
        )
        child.pump.start()
        self.children.append(child)
        return child

    def first_exited(self) -> Child | None:
        """The first child (in start order) that is no longer running, if any."""
        for child in self.children:
            if child.proc.poll() is not None:
                return child
        return None

    def wait_any(self, stop: threading.Event, *, poll_s: float = 0.2) -> Child | None:
        """Block until a child exits (returned) or ``stop`` is set (``None``)."""
        while not stop.wait(poll_s):
            exited = self.first_exited()
            if exited is not None:
                return exited
        return None

    def stop(self) -> None:
        """SIGTERM every child (newest first), wait, then SIGKILL what is left of each group."""
        children = list(reversed(self.children))
        for child in children:
            if child.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    child.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + self.stop_timeout_s
        for child in children:
            remaining = max(0.0, deadline - time.monotonic())
            try:
                child.proc.wait(remaining)
            except subprocess.TimeoutExpired:
                self.write(f"{child.name} did not stop within {self.stop_timeout_s:g} s: killing it")
                _signal_group(child.pid, signal.SIGKILL)
                child.proc.wait(5)
        # Workers forked by a child live in its process group; none may outlive it.
        for child in children:
            if _group_alive(child.pid):
                _signal_group(child.pid, signal.SIGTERM)
        grace = time.monotonic() + min(3.0, self.stop_timeout_s)
        while any(_group_alive(c.pid) for c in children) and time.monotonic() < grace:
            time.sleep(0.05)
        for child in children:
            if _group_alive(child.pid):
                _signal_group(child.pid, signal.SIGKILL)
        for child in children:
            if child.pump is not None:
                child.pump.join(2.0)
