"""The router's error tree. Data-plane routes (``/v1/*``) render these in OpenAI's error shape
(``{"error": {"message", "type", "code", "param"}}``); admin routes render RFC 9457 problems.

::

    TollgateError (tollgate_common.errors)
    ├── BadRequest ─────────── InvalidRequest          400 invalid_request_error
    ├── Unauthorized ───────── InvalidKey              401 invalid_api_key
    ├── BudgetExceeded                                 402 budget_exceeded
    ├── Forbidden ──────────┬─ KeyBlocked              403 key_blocked
    │                       └─ ModelNotAllowed         403 model_not_allowed
    ├── NotFound ───────────── ModelNotFound           404 model_not_found
    ├── PayloadTooLarge                                413 payload_too_large
    ├── RateLimited ────────── KeyRateLimited          429 rate_limit_exceeded (Retry-After)
    ├── UpstreamError                                  502 upstream_error   (provider answered badly)
    ├── Unavailable ────────── NoDeploymentAvailable   503 no_deployment_available (Retry-After)
    └── UpstreamTimeout                                504 upstream_timeout
"""

from __future__ import annotations

from tollgate_common.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    RateLimited,
    TollgateError,
    Unauthorized,
    Unavailable,
)


class InvalidRequest(BadRequest):
    openai_type, openai_code = "invalid_request_error", "invalid_request"


class InvalidKey(Unauthorized):
    slug, title = "invalid-key", "Invalid API key"
    openai_type, openai_code = "authentication_error", "invalid_api_key"


class BudgetExceeded(TollgateError):
    slug, title, status = "budget-exceeded", "Budget exhausted", 402
    openai_type, openai_code = "insufficient_quota", "budget_exceeded"


class KeyBlocked(Forbidden):
    slug, title = "key-blocked", "Key is blocked"
    openai_type, openai_code = "permission_error", "key_blocked"


class ModelNotAllowed(Forbidden):
    slug, title = "model-not-allowed", "Model not allowed for this key"
    openai_type, openai_code = "permission_error", "model_not_allowed"


class ModelNotFound(NotFound):
    slug, title = "model-not-found", "Unknown model"
    openai_type, openai_code = "invalid_request_error", "model_not_found"


class KeyRateLimited(RateLimited):
    openai_type, openai_code = "rate_limit_error", "rate_limit_exceeded"


class UpstreamError(TollgateError):
    slug, title, status = "upstream-error", "Upstream provider failed", 502
    openai_type, openai_code = "api_error", "upstream_error"


class NoDeploymentAvailable(Unavailable):
    slug, title = "no-deployment-available", "No deployment available"
    openai_type, openai_code = "api_error", "no_deployment_available"


class UpstreamTimeout(TollgateError):
    slug, title, status = "upstream-timeout", "Upstream provider timed out", 504
    openai_type, openai_code = "timeout_error", "upstream_timeout"


def openai_fields(error: TollgateError) -> tuple[str, str]:
    """(type, code) of an error in OpenAI's vocabulary; generic for errors from the shared tree."""
    openai_type = getattr(error, "openai_type", None)
    openai_code = getattr(error, "openai_code", None)
    if openai_type and openai_code:
        return openai_type, openai_code
    by_status = {
        400: ("invalid_request_error", "invalid_request"),
        401: ("authentication_error", "invalid_api_key"),
        403: ("permission_error", "forbidden"),
        404: ("invalid_request_error", "not_found"),
        409: ("invalid_request_error", "conflict"),
        413: ("invalid_request_error", "payload_too_large"),
        429: ("rate_limit_error", "rate_limit_exceeded"),
        503: ("api_error", "unavailable"),
    }
    return by_status.get(error.status, ("api_error", "internal_error"))
