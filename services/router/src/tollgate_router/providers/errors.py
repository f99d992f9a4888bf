"""What can go wrong talking to a provider. Internal to the data plane: the chat pipeline decides
what the caller sees (retry, fall back, or one of the ``tollgate_router.errors`` classes).

::

    ProviderError                      retryable  error_kind
    ├── UpstreamStatus                 429/408/409/5xx   "status_<code>"
    ├── UpstreamTimedOut               yes        "timeout"
    ├── UpstreamUnreachable            yes        "connection"   (refused, reset, dropped mid-body)
    ├── UpstreamBadResponse            yes        "bad_response" (unparseable body / stream)
    ├── UpstreamStreamError            yes        "stream_error" (an error event inside a stream)
    └── UnsupportedRequest             no         "unsupported"  (this provider cannot do that)

Timeouts and transport errors (may fail over) are kept apart from status errors (decided by code).
"""

from __future__ import annotations

from typing import ClassVar

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529})


class ProviderError(Exception):
    retryable: ClassVar[bool] = True
    kind: ClassVar[str] = "provider_error"

    @property
    def error_kind(self) -> str:
        return self.kind


class UpstreamStatus(ProviderError):
    """The provider answered with a non-2xx status."""

    def __init__(self, status: int, message: str = "", *, retry_after_s: float | None = None) -> None:
        super().__init__(f"upstream answered {status}")
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s

    @property
    def is_retryable(self) -> bool:
        return self.status in RETRYABLE_STATUSES or self.status >= 500

    @property
    def error_kind(self) -> str:
        return f"status_{self.status}"


class UpstreamTimedOut(ProviderError):
    kind = "timeout"


class UpstreamUnreachable(ProviderError):
    kind = "connection"


class UpstreamBadResponse(ProviderError):
    kind = "bad_response"


class UpstreamStreamError(ProviderError):
    kind = "stream_error"


class UnsupportedRequest(ProviderError):
    retryable = False
    kind = "unsupported"


def is_retryable(error: ProviderError) -> bool:
    if isinstance(error, UpstreamStatus):
        return error.is_retryable
    return error.retryable
