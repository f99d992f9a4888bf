"""Litestar exception handlers: every error leaves as ``application/problem+json``.

Framework errors (malformed JSON, validation failures, unknown routes, wrong methods, oversize
bodies) are translated to the same problem shape as domain errors. Unexpected exceptions become
a bare 500 problem with the request id, logged server-side with the traceback; the body never
carries a traceback or a driver message.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.types import ExceptionHandlersMap

from tollgate_common.errors import PROBLEM_CONTENT_TYPE, TollgateError, error_body, problem_body

_log = structlog.get_logger("tollgate.errors")

_SLUGS: dict[int, tuple[str, str]] = {
    400: ("invalid-request", "Invalid request"),
    401: ("unauthorized", "Missing or invalid credentials"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    408: ("request-timeout", "Request timeout"),
    409: ("conflict", "Conflict"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("invalid-request", "Invalid request"),
    429: ("rate-limited", "Too many requests"),
    503: ("unavailable", "Service temporarily unavailable"),
}


def _request_id(request: Request[Any, Any, Any]) -> str | None:
    value = request.scope.get("state", {}).get("request_id")
    return str(value) if value else None


def _response(body: bytes, status: int, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(content=body, status_code=status, media_type=PROBLEM_CONTENT_TYPE, headers=headers)


def handle_domain_error(request: Request[Any, Any, Any], exc: TollgateError) -> Response[bytes]:
    return _response(error_body(exc, instance=request.url.path), exc.status, exc.headers)


def handle_http_exception(request: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    status = exc.status_code
    slug, title = _SLUGS.get(status, ("error", "Error"))
    extra: dict[str, Any] = {}
    detail: str | None = exc.detail if isinstance(exc.detail, str) else None
    if isinstance(exc, ValidationException):
        status, slug, title = 400, "invalid-request", "Invalid request"
        if isinstance(exc.extra, list):
            extra["errors"] = [_clean_validation_item(item) for item in exc.extra]
    if status >= 500 or detail == title or (detail and detail.startswith("Not Found")):
        detail = None
    headers = {k: v for k, v in (exc.headers or {}).items() if k.lower() in {"retry-after", "allow"}}
    body = problem_body(
        slug=slug, title=title, status=status, detail=detail, instance=request.url.path, extra=extra
    )
    return _response(body, status, headers or None)


def _clean_validation_item(item: Any) -> Any:
    if isinstance(item, dict):
        return {k: v for k, v in item.items() if k in {"key", "message", "source"}}
    return str(item)


def handle_unexpected(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    _log.error("unhandled_error", path=request.url.path, exc_info=exc)
    body = problem_body(
        slug="internal",
        title="Internal error",
        status=500,
        detail="The server failed to handle the request; it has been logged.",
        instance=request.url.path,
        extra={"request_id": _request_id(request)} if _request_id(request) else None,
    )
    return _response(body, 500)


def exception_handlers() -> ExceptionHandlersMap:
    return {
        TollgateError: handle_domain_error,
        HTTPException: handle_http_exception,
        Exception: handle_unexpected,
    }


__all__ = ["MediaType", "exception_handlers"]
