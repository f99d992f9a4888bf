"""Run a service's ASGI app (see docs/decisions/0002-hot-path-http-stack.md and 0010)."""

from __future__ import annotations

import sys
from typing import Literal

from tollgate_common.embedded import port_in_use

Server = Literal["granian", "uvicorn"]


def serve(
    target: str, *, host: str, port: int, workers: int, service: str, server: Server = "granian"
) -> None:
    """Serve ``target`` (``module:factory``); a taken port is a message, not a traceback.

    * ``uvicorn`` (uvloop + httptools, everything on the event loop's thread): the router's data plane,
      where it costs less CPU per request and less latency than granian (ADR 0010);
    * ``granian`` (Rust HTTP threads handing requests to the loop): the api.
    """
    if port_in_use(port, host if host not in {"0.0.0.0", "::"} else "127.0.0.1"):  # noqa: S104
        print(f"{service}: port {port} on {host} is already in use; set another port.", file=sys.stderr)  # noqa: T201
        raise SystemExit(2)
    if server == "uvicorn":
        import uvicorn  # noqa: PLC0415

        uvicorn.run(
            target,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            ws="none",
            lifespan="on",
            access_log=False,  # the app logs one line per request itself
            log_level="warning",
            server_header=False,  # callers learn nothing about the stack
            backlog=2048,
            timeout_graceful_shutdown=15,
        )
        return
    from granian.constants import Interfaces, Loops  # noqa: PLC0415
    from granian.server import Server as Granian  # noqa: PLC0415

    Granian(
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
