"""Run a service's ASGI app under granian (see docs/decisions/0002-hot-path-http-stack.md)."""

from __future__ import annotations

import sys

from tollgate_common.embedded import port_in_use


def serve(target: str, *, host: str, port: int, workers: int, service: str) -> None:
    """Serve ``target`` (``module:factory``) with granian; a taken port is a message, not a traceback."""
    if port_in_use(port, host if host not in {"0.0.0.0", "::"} else "127.0.0.1"):  # noqa: S104
        print(f"{service}: port {port} on {host} is already in use; set another port.", file=sys.stderr)  # noqa: T201
        raise SystemExit(2)
    from granian.constants import Interfaces, Loops  # noqa: PLC0415
    from granian.server import Server  # noqa: PLC0415

    Server(
        target,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=Loops.uvloop,
        factory=True,
        log_enabled=False,
        backpressure=512,
    ).serve()
