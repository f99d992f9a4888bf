"""The dev supervisor: children are started with prefixed output, watched, and stopped without leftovers."""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from pathlib import Path

from tollgate_api.devstack.supervisor import ProcessSpec, Supervisor

SLEEPER = "import time\nprint('up', flush=True)\nwhile True: time.sleep(0.1)"
# A child that forks a grandchild (like granian and Dramatiq do) and ignores SIGTERM itself.
STUBBORN_PARENT = (
    "import os, signal, time\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "    while True: time.sleep(0.1)\n"
    "print('grandchild', pid, flush=True)\n"
    "while True: time.sleep(0.1)\n"
)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state not in {"Z", "X"}


def _spec(name: str, code: str) -> ProcessSpec:
    return ProcessSpec(name, [sys.executable, "-c", code], dict(os.environ))


def _wait_for(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.02)


def test_stop_leaves_no_child_running() -> None:
    out = io.StringIO()
    sup = Supervisor(out=out, stop_timeout_s=5, color=False)
    first = sup.start(_spec("one", SLEEPER))
    second = sup.start(_spec("two", SLEEPER))
    _wait_for(lambda: out.getvalue().count("up") == 2)

    sup.stop()

    assert not _alive(first.pid)
    assert not _alive(second.pid)
    assert first.returncode is not None
    assert second.returncode is not None


def test_output_lines_are_prefixed_with_the_process_name() -> None:
    out = io.StringIO()
    sup = Supervisor(out=out, stop_timeout_s=5, color=False)
    sup.start(_spec("api", "print('hello'); print('world')"))
    _wait_for(lambda: "world" in out.getvalue())
    sup.stop()
    lines = out.getvalue().splitlines()
    assert "api    | hello" in lines
    assert "api    | world" in lines


def test_grandchildren_ignoring_sigterm_are_killed_too() -> None:
    out = io.StringIO()
    sup = Supervisor(out=out, stop_timeout_s=1, color=False)
    child = sup.start(_spec("forker", STUBBORN_PARENT))
    _wait_for(lambda: "grandchild" in out.getvalue())
    grandchild = int(out.getvalue().split("grandchild", 1)[1].split()[0])
    assert _alive(grandchild)

    sup.stop()

    assert not _alive(child.pid)
    _wait_for(lambda: not _alive(grandchild), timeout=5)


def test_a_dying_child_is_reported_and_the_others_can_be_stopped() -> None:
    out = io.StringIO()
    sup = Supervisor(out=out, stop_timeout_s=5, color=False)
    survivor = sup.start(_spec("router", SLEEPER))
    sup.start(_spec("api", "import sys, time; time.sleep(0.3); sys.exit(3)"))

    exited = sup.wait_any(threading.Event(), poll_s=0.05)

    assert exited is not None
    assert exited.name == "api"
    assert exited.returncode == 3
    assert _alive(survivor.pid)
    sup.stop()
    assert not _alive(survivor.pid)


def test_wait_any_returns_none_when_asked_to_stop() -> None:
    sup = Supervisor(out=io.StringIO(), stop_timeout_s=5, color=False)
    sup.start(_spec("one", SLEEPER))
    stop = threading.Event()
    threading.Timer(0.2, stop.set).start()
    assert sup.wait_any(stop, poll_s=0.05) is None
    sup.stop()
