"""The root of every service's error tree and its one mapping to RFC 9457 problem details.

::

    TollgateError                      status  type
    ├── BadRequest                     400     invalid-request
    ├── Unauthorized                   401     unauthorized
    ├── Forbidden                      403     forbidden
    ├── NotFound                       404     not-found
    ├── Conflict                       409     conflict
    ├── PayloadTooLarge                413     payload-too-large
    ├── RateLimited                    429     rate-limited        (Retry-After)
    └── Unavailable                    503     unavailable         (Retry-After)

Each service subclasses these in its own ``errors.py`` (e.g. ``InsufficientCredits(TollgateError)``
with status 402). Controllers raise domain errors, never ``HTTPException``. Everything a client
sees of an error is produced by :func:`problem_response` from the error's own ``type``, ``title``,
``detail`` and whitelisted ``extra`` members — never from a driver message or a traceback — which is
where "teams never see a model, provider, token count or cost" is enforced for errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final

import msgspec

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"
PROBLEM_BASE: Final = "https://tollgate.dev/problems/"


class TollgateError(Exception):
    """A failure the client may be told about. Subclasses fix ``slug``, ``title`` and ``status``."""

    slug: ClassVar[str] = "internal"
    title: ClassVar[str] = "Internal error"
    status: ClassVar[int] = 500

    def __init__(
        self,
        detail: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    @property
    def type_uri(self) -> str:
        return PROBLEM_BASE + self.slug


class BadRequest(TollgateError):
    slug, title, status = "invalid-request", "Invalid request", 400


class Unauthorized(TollgateError):
    slug, title, status = "unauthorized", "Missing or invalid credentials", 401


class Forbidden(TollgateError):
    slug, title, status = "forbidden", "Not allowed", 403


class NotFound(TollgateError):
    slug, title, status = "not-found", "Not found", 404


class Conflict(TollgateError):
    slug, title, status = "conflict", "Conflict", 409


class PayloadTooLarge(TollgateError):
    slug, title, status = "payload-too-large", "Request body too large", 413


class RateLimited(TollgateError):
    slug, title, status = "rate-limited", "Too many requests", 429

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1, **kw: Any) -> None:
        headers = {"Retry-After": str(max(1, retry_after_s)), **kw.pop("headers", {})}
        super().__init__(detail, headers=headers, **kw)


class Unavailable(TollgateError):
    slug, title, status = "unavailable", "Service temporarily unavailable", 503

    def __init__(self, detail: str | None = None, *, retry_after_s: int = 1, **kw: Any) -> None:
        headers = {"Retry-After": str(max(1, retry_after_s)), **kw.pop("headers", {})}
        super().__init__(detail, headers=headers, **kw)


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 body. Extension members are merged in at encode time."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


_encoder = msgspec.json.Encoder()


def problem_body(
    *,
    slug: str,
    title: str,
    status: int,
    detail: str | None,
    instance: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    for key, value in (extra or {}).items():
        body.setdefault(key, value)
    return _encoder.encode(body)


def error_body(error: TollgateError, *, instance: str | None = None) -> bytes:
    return problem_body(
        slug=error.slug,
        title=error.title,
        status=error.status,
        detail=error.detail,
        instance=instance,
        extra=error.extra,
    )
