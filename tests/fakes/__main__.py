"""Run a fake provider as a process: `python -m tests.fakes --kind openai --port 9100 [--workers N]`.

Fast mode (default) serves one precomputed answer per (endpoint, model, stream) as fast as possible:
the benchmark's upstream. `--mode scripted` runs the full FakeOpenAI / FakeAnthropic (one process,
default behavior from the flags) for e2e runs that want realistic token math.

Prints one line when ready, e.g.
`tollgate-fake kind=openai mode=fast workers=1 url=http://127.0.0.1:9100 base_url=http://127.0.0.1:9100/v1`
and runs until SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import threading
from collections.abc import Coroutine
from typing import Any

from tests.fakes._anthropic import FakeAnthropic
from tests.fakes._http import Connection
from tests.fakes._openai import FakeOpenAI
from tests.fakes.behavior import Behavior
from tests.fakes.fast import FastApp

_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tests.fakes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--kind", choices=("openai", "anthropic"), default="openai")
    p.add_argument("--mode", choices=("fast", "scripted"), default="fast")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port (printed when ready)")
    p.add_argument("--workers", type=int, default=1, help="fast mode: processes sharing the port")
    p.add_argument("--api-key", default=None, help="require this key (default: accept any)")
    p.add_argument("--latency-ms", type=float, default=0.0, help="delay before each answer")
    p.add_argument("--chunk-delay-ms", type=float, default=0.0, help="delay between SSE events")
    p.add_argument("--content", default=None, help="the reply text")
    p.add_argument("--chunks", type=int, default=4, help="content deltas per stream")
    p.add_argument("--no-uvloop", action="store_true", help="use asyncio's default loop")
    return p


def _ready_line(kind: str, mode: str, workers: int, host: str, port: int) -> str:
    url = f"http://{host}:{port}"
    base = url + ("/v1" if kind == "openai" else "")
    return f"tollgate-fake kind={kind} mode={mode} workers={workers} url={url} base_url={base}"


def _run(coro: Coroutine[Any, Any, None], *, use_uvloop: bool) -> None:
    if use_uvloop:
        try:
            import uvloop  # noqa: PLC0415 - optional speed-up
        except ImportError:
            pass
        else:
            uvloop.run(coro)
            return
    asyncio.run(coro)


async def _serve(sock: socket.socket, app: FastApp, ready_line: str | None) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Connection(app), sock=sock, backlog=4096)
    stop = asyncio.Event()
    for sig in _SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)  # blocked until our handlers were in place
    if ready_line is not None:
        print(ready_line, flush=True)
    await stop.wait()
    server.close()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(4096)
    sock.setblocking(False)
    return sock


def _fast(args: argparse.Namespace) -> int:
    app = FastApp(
        args.kind,
        api_key=args.api_key,
        latency_s=args.latency_ms / 1000,
        chunk_delay_s=args.chunk_delay_ms / 1000,
        n_chunks=args.chunks,
        **({"content": args.content} if args.content is not None else {}),
    )
    sock = _listen(args.host, args.port)
    port = sock.getsockname()[1]
    use_uvloop = not args.no_uvloop
    ready = _ready_line(args.kind, "fast", max(1, args.workers), args.host, port)
    # SIGINT/SIGTERM stay pending until each process has its handlers (no early default death).
    signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
    if args.workers <= 1:
        _run(_serve(sock, app, ready), use_uvloop=use_uvloop)
        return 0
    children = []
    for _ in range(args.workers):
        pid = os.fork()
        if pid == 0:  # child: serve on the inherited listening socket
            code = 0
            try:
                _run(_serve(sock, app, None), use_uvloop=use_uvloop)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        children.append(pid)
    sock.close()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    for sig in _SIGNALS:
        signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
    print(ready, flush=True)
    status = 0
    for child in children:
        _, code = os.waitpid(child, 0)
        status = status or os.waitstatus_to_exitcode(code)
    return status


def _scripted(args: argparse.Namespace) -> int:
    default = Behavior(
        content=args.content,
        delay_s=args.latency_ms / 1000,
        chunk_delay_s=args.chunk_delay_ms / 1000,
        n_chunks=args.chunks,
    )
    cls = FakeOpenAI if args.kind == "openai" else FakeAnthropic
    fake = cls(host=args.host, port=args.port, api_key=args.api_key, default=default, max_recorded=1000)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with fake:
        print(_ready_line(args.kind, "scripted", 1, args.host, fake.port), flush=True)
        while not done.wait(0.5):
            pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return _fast(args) if args.mode == "fast" else _scripted(args)


if __name__ == "__main__":
    sys.exit(main())
