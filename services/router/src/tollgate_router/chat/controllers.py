"""HTTP of the data plane: ``POST /v1/chat/completions``, ``POST /v1/embeddings``, ``GET /v1/models``.

These are plain ASGI handlers. The app (:class:`tollgate_router.app.RouterApp`) dispatches them by exact
path before Litestar's routing and middleware stack (ADR 0010); the shared request-id/metrics/access-log
middleware and :func:`crash_guard` wrap them there. They are also registered with Litestar (``@asgi``),
which serves them when the exact-path dispatch does not apply (a ``root_path``, a trailing slash). They
read the body under the size limit, call :class:`~tollgate_router.chat.service.ChatService`, and render
every error in OpenAI's shape: ``{"error": {"message", "type", "code", "param"}}`` with the error's
status and its ``Retry-After``. Limits and spend are settled after the answer has been sent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import aclosing
from typing import Any, Final

import msgspec
import structlog
from litestar import Litestar
from litestar.handlers import asgi
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from tollgate_common.errors import PayloadTooLarge, TollgateError
from tollgate_router.chat.service import ChatService, Reply, StreamReply
from tollgate_router.errors import InvalidRequest, openai_fields

__all__ = [
    "DATA_PLANE",
    "chat_completions",
    "crash_guard",
    "data_plane_handlers",
    "embeddings",
    "list_models",
    "render_openai_error",
]

_log = structlog.get_logger("tollgate.router.chat")
_JSON: Final = (b"content-type", b"application/json")
_encode = msgspec.json.encode


class _ClientGone(Exception):
    """The caller disconnected before sending its whole request."""


class MethodNotAllowed(InvalidRequest):
    slug, title, status = "method-not-allowed", "Method not allowed", 405


def _service(scope: Scope) -> ChatService:
    app: Litestar = scope["litestar_app"]
    service: ChatService = app.state.chat
    return service


def _request_id(scope: Scope) -> str:
    return str(scope.get("state", {}).get("request_id", ""))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    declared = _header(scope, b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        body: bytes = message.get("body", b"")  # type: ignore[assignment]
        if body:
            size += len(body)
            if size > limit:
                raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
            parts.append(body)
        if not message.get("more_body", False):
            break
    return parts[0] if len(parts) == 1 else b"".join(parts)


def render_openai_error(error: TollgateError) -> bytes:
    """An error in OpenAI's shape (what every SDK parses)."""
    error_type, code = openai_fields(error)
    param = error.extra.get("param")
    return _encode({"error": {"message": error.detail, "type": error_type, "code": code, "param": param}})


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers.append((b"content-length", b"%d" % len(body)))  # a whole body: no chunked framing
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _send_error(send: Send, scope: Scope, error: TollgateError) -> None:
    headers = [_JSON, (b"x-tollgate-request-id", _request_id(scope).encode())]
    headers.extend((k.lower().encode(), v.encode()) for k, v in error.headers.items())
    await _send(send, error.status, headers, render_openai_error(error))


async def _send_reply(send: Send, receive: Receive, reply: Reply | StreamReply) -> None:
    if isinstance(reply, Reply):
        try:
            await _send(send, reply.status, [_JSON, *reply.headers], reply.body)
        finally:
            reply.finalize()  # queue the limits settle and the spend record once the answer is out
        return
    await _relay(send, receive, reply)


async def _relay(send: Send, receive: Receive, reply: StreamReply) -> None:
    """Relay a stream until it ends or the caller goes away. Servers differ on a disconnect (granian
    fails ``send``; uvicorn drops what is sent and only ``receive`` says so), so a watcher task waits
    for ``http.disconnect`` and cancels the relay: closing the events then stops the upstream read
    and records the call as cancelled, uncharged (see ChatService._relay)."""
    relay = asyncio.current_task()
    gone = sent = False

    async def watch() -> None:
        nonlocal gone
        while (await receive())["type"] != "http.disconnect":
            pass
        if not sent:  # (some servers also report a disconnect once the response is complete)
            gone = True
            if relay is not None:
                relay.cancel()

    watcher = asyncio.create_task(watch())
    try:
        async with aclosing(reply.events) as events:
            await send({"type": "http.response.start", "status": 200, "headers": reply.headers})
            async for frame in events:
                if frame:
                    await send({"type": "http.response.body", "body": frame, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            sent = True
    except asyncio.CancelledError:
        if not gone or relay is None or relay.uncancel():
            raise  # cancelled from outside (shutdown): not ours to swallow
    finally:
        watcher.cancel()


async def _guard(scope: Scope, send: Send, method: str) -> bool:
    if scope.get("method") == method:
        return True
    await _send_error(send, scope, MethodNotAllowed(f"Use {method} for this endpoint."))
    return False


async def chat_completions(scope: Scope, receive: Receive, send: Send) -> None:
    if not await _guard(scope, send, "POST"):
        return
    service = _service(scope)
    try:
        raw = await _read_body(scope, receive, service.max_body_bytes)
        cache_header = _header(scope, b"x-tollgate-cache")
        reply = await service.chat(
            request_id=_request_id(scope),
            authorization=_header(scope, b"authorization"),
            raw=raw,
            no_store=cache_header is not None and cache_header.strip().lower() == "no-store",
        )
    except TollgateError as exc:
        await _send_error(send, scope, exc)
        return
    except _ClientGone:
        return
    await _send_reply(send, receive, reply)


async def embeddings(scope: Scope, receive: Receive, send: Send) -> None:
    if not await _guard(scope, send, "POST"):
        return
    service = _service(scope)
    try:
        raw = await _read_body(scope, receive, service.max_body_bytes)
        reply = await service.embeddings(
            request_id=_request_id(scope), authorization=_header(scope, b"authorization"), raw=raw
        )
    except TollgateError as exc:
        await _send_error(send, scope, exc)
        return
    except _ClientGone:
        return
    await _send_reply(send, receive, reply)


async def list_models(scope: Scope, receive: Receive, send: Send) -> None:
    if not await _guard(scope, send, "GET"):
        return
    try:
        body = await _service(scope).models(_header(scope, b"authorization"))
    except TollgateError as exc:
        await _send_error(send, scope, exc)
        return
    await _send(send, 200, [_JSON, (b"x-tollgate-request-id", _request_id(scope).encode())], body)


#: The data plane by exact path: what RouterApp dispatches before Litestar's routing.
DATA_PLANE: Final[Mapping[str, ASGIApp]] = {
    "/v1/chat/completions": chat_completions,
    "/v1/embeddings": embeddings,
    "/v1/models": list_models,
}

_INTERNAL: Final = _encode(
    {
        "error": {
            "message": "The gateway failed to handle this request.",
            "type": "api_error",
            "code": "internal_error",
            "param": None,
        }
    }
)


def crash_guard(app: ASGIApp) -> ASGIApp:
    """What Litestar's exception middleware does for these handlers off its stack: an unexpected
    exception is logged (no request body, no key) and answered with an OpenAI-shaped 500 when no
    response has started; after that the connection is simply ended."""

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await app(scope, receive, tracking_send)
        except Exception:
            _log.exception("data_plane_unhandled", path=scope.get("path"))
            if not started:
                await _send(
                    send, 500, [_JSON, (b"x-tollgate-request-id", _request_id(scope).encode())], _INTERNAL
                )

    return guarded


def data_plane_handlers() -> list[Any]:
    """The same handlers as Litestar routes (see the module docstring)."""
    return [asgi(path, copy_scope=False, include_in_schema=False)(fn) for path, fn in DATA_PLANE.items()]
