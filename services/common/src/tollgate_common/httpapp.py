"""HTTP plumbing shared by both services: request ids, one log line per request, metrics, health.

The middleware is plain ASGI (no per-request objects beyond what Litestar makes anyway) because it
sits on the llm-call hot path.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Generic, TypeVar

import structlog
from litestar import Controller, MediaType, Response, get
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.metrics import MetricWrapperBase

from tollgate_common.errors import PROBLEM_CONTENT_TYPE, problem_body

_access = structlog.get_logger("tollgate.access")

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# Label values must come from a bounded set (a client could send any method token).
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

M = TypeVar("M", bound=MetricWrapperBase)


class Labelled(Generic[M]):
    """A labelled metric whose children are looked up once (``labels()`` takes a lock and builds a
    tuple on every call; this is on the hot path). Label values must come from bounded sets."""

    __slots__ = ("_children", "metric")

    def __init__(self, metric: M) -> None:
        self.metric = metric
        self._children: dict[tuple[str, ...], M] = {}

    def labels(self, *values: str) -> M:
        child = self._children.get(values)
        if child is None:
            child = self._children[values] = self.metric.labels(*values)
        return child


class HttpMetrics:
    """Per-service Prometheus registry with the request metrics every service exports."""

    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Labelled(
            Counter(
                "tollgate_http_requests",
                "HTTP requests by route and status",
                ["service", "method", "route", "status"],
                registry=self.registry,
            )
        )
        self.latency = Labelled(
            Histogram(
                "tollgate_http_request_seconds",
                "HTTP request duration",
                ["service", "method", "route"],
                buckets=LATENCY_BUCKETS,
                registry=self.registry,
            )
        )
        self.service = service

    def render(self) -> bytes:
        return generate_latest(self.registry)


def request_context_middleware(
    metrics: HttpMetrics, *, access_log: bool = True
) -> Callable[[ASGIApp], ASGIApp]:
    """Bind a request id (``x-request-id`` in, or a new one), log one line, count and time."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            request_id = ""
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    candidate = value.decode("latin-1")[:64]
                    if candidate.replace("-", "").replace("_", "").isalnum():
                        request_id = candidate
                    break
            request_id = request_id or secrets.token_hex(16)
            scope.setdefault("state", {})["request_id"] = request_id
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=request_id)
            started = time.perf_counter()
            status_holder = [500]
            rid_header = (b"x-request-id", request_id.encode())

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder[0] = message["status"]
                    message["headers"] = [*message.get("headers", []), rid_header]
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                elapsed = time.perf_counter() - started
                route = scope.get("path_template") or "unmatched"
                method = str(scope.get("method", ""))
                method = method if method in _METHODS else "OTHER"
                status = status_holder[0]
                metrics.requests.labels(metrics.service, method, route, str(status)).inc()
                metrics.latency.labels(metrics.service, method, route).observe(elapsed)
                if access_log and not route.startswith(("/health", "/metrics")):
                    _access.info(
                        "request",
                        method=method,
                        route=route,
                        status=status,
                        duration_ms=round(elapsed * 1000, 2),
                    )

        return wrapped

    return middleware


Check = Callable[[], Awaitable[None]]


def health_controller(checks: Callable[[], Sequence[tuple[str, Check]]]) -> type[Controller]:
    """``/health/live`` (the process answers) and ``/health/ready`` (its dependencies answer)."""

    class HealthController(Controller):
        path = "/health"
        tags = ["health"]  # noqa: RUF012
        include_in_schema = False

        @get("/live", media_type=MediaType.JSON)
        async def live(self) -> dict[str, str]:
            return {"status": "ok"}

        @get("/ready", media_type=MediaType.JSON)
        async def ready(self) -> Response[Any]:
            failing: list[str] = []
            for name, check in checks():
                try:
                    await check()
                except Exception:  # any failure means not ready
                    failing.append(name)
            if failing:
                body = problem_body(
                    slug="unavailable",
                    title="Service temporarily unavailable",
                    status=503,
                    detail=f"not ready: {', '.join(failing)} unreachable",
                    extra={"failing": failing},
                )
                return Response(
                    content=body,
                    status_code=503,
                    media_type=PROBLEM_CONTENT_TYPE,
                    headers={"Retry-After": "2"},
                )
            return Response(content={"status": "ok"}, status_code=200)

    return HealthController


def metrics_handler(metrics: HttpMetrics) -> Any:
    @get("/metrics", include_in_schema=False, media_type=CONTENT_TYPE_LATEST)
    async def render_metrics() -> bytes:
        return metrics.render()

    return render_metrics
