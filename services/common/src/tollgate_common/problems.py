"""Litestar exception handlers: every error leaves as ``application/problem+json``.

Framework errors (malformed JSON, validation failures, unknown routes, wrong methods, oversize
bodies) are translated to the same problem shape as domain errors. Unexpected exceptions become
a bare 500 problem with the request id, logged server-side with the traceback; the body never
carries a traceback or a driver message.
"""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Litestar, MediaType, Request, Response
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIResponse, OpenAPIType, Schema
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


def handle_undecodable(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """A body msgspec cannot decode but Litestar does not wrap: JSON nested deeper than the decoder
    goes (``RecursionError``) or invalid UTF-8 inside a JSON string (``UnicodeDecodeError``). Found by
    ``tests/fuzz/test_hostile_inputs.py``; they were 500s."""
    _log.info("undecodable_body", path=request.url.path, error=type(exc).__name__)
    detail = (
        "The JSON body is nested too deeply."
        if isinstance(exc, RecursionError)
        else "The request body is not valid UTF-8."
    )
    body = problem_body(
        slug="invalid-request", title="Invalid request", status=400, detail=detail, instance=request.url.path
    )
    return _response(body, 400)


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
        RecursionError: handle_undecodable,
        UnicodeDecodeError: handle_undecodable,
        Exception: handle_unexpected,
    }


_PROBLEM = OpenAPIMediaType(
    schema=Schema(
        type=OpenAPIType.OBJECT,
        required=["type", "title", "status"],
        properties={
            "type": Schema(type=OpenAPIType.STRING),
            "title": Schema(type=OpenAPIType.STRING),
            "status": Schema(type=OpenAPIType.INTEGER),
            "detail": Schema(type=OpenAPIType.STRING),
            "instance": Schema(type=OpenAPIType.STRING),
        },
        description="RFC 9457 problem details",
    )
)


def document_problems(app: Litestar) -> None:
    """Make the OpenAPI document tell the truth about errors: Litestar documents its error responses
    as ``application/json`` ``{status_code, detail, extra}``, but every error leaves as an RFC 9457
    ``application/problem+json`` body (found by the schema fuzzing in ``tests/fuzz``). Runs at
    start-up, before the document is first served."""
    openapi = app.plugins.get(OpenAPIPlugin).provide_openapi()
    for item in (openapi.paths or {}).values():
        for method in ("get", "put", "post", "delete", "patch"):
            operation = getattr(item, method, None)
            for status, response in ((operation and operation.responses) or {}).items():
                if status[:1] in {"4", "5"} and isinstance(response, OpenAPIResponse):
                    response.content = {PROBLEM_CONTENT_TYPE: _PROBLEM}


__all__ = ["MediaType", "document_problems", "exception_handlers"]
