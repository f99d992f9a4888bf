"""The data plane's Prometheus metrics, registered on the router's registry (``app.state.metrics``)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from tollgate_common.httpapp import LATENCY_BUCKETS, Labelled

__all__ = ["DataPlaneMetrics"]


_OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.003, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25)


class DataPlaneMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Labelled(
            Counter(
                "tollgate_router_requests",
                "Data-plane requests by endpoint, model and status",
                ["endpoint", "model", "status"],
                registry=registry,
            )
        )
        self.latency = Labelled(
            Histogram(
                "tollgate_router_request_seconds",
                "End-to-end data-plane latency (a stream: until its last byte)",
                ["endpoint"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        self.upstream_latency = Labelled(
            Histogram(
                "tollgate_router_upstream_seconds",
                "Upstream latency per attempt (a stream: until its first chunk)",
                ["provider", "outcome"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            )
        )
        self.overhead = Labelled(
            Histogram(
                "tollgate_router_overhead_seconds",
                "Time spent in the gateway itself (end-to-end minus upstream), non-streamed calls",
                ["endpoint"],
                buckets=_OVERHEAD_BUCKETS,
                registry=registry,
            )
        )
        self.tokens = Labelled(
            Counter(
                "tollgate_router_tokens",
                "Tokens by model and kind (prompt, completion, cached, cache_write)",
                ["model", "kind"],
                registry=registry,
            )
        )
        self.cost = Labelled(
            Counter(
                "tollgate_router_cost_micro_usd",
                "Cost charged to callers, micro-USD",
                ["model"],
                registry=registry,
            )
        )
        self.cache = Labelled(
            Counter(
                "tollgate_router_cache",
                "Response cache outcomes (hit, miss, bypass)",
                ["result"],
                registry=registry,
            )
        )
        self.limit_rejections = Labelled(
            Counter(
                "tollgate_router_limit_rejections",
                "Requests refused by a limit (rate, budget)",
                ["reason"],
                registry=registry,
            )
        )
        self.retries = Labelled(
            Counter(
                "tollgate_router_retries",
                "Upstream attempts after the first, by the failure that caused them",
                ["reason"],
                registry=registry,
            )
        )
        self.fallbacks = Labelled(
            Counter(
                "tollgate_router_fallbacks",
                "Requests served by a fallback model",
                ["model", "fallback"],
                registry=registry,
            )
        )
        self.cooldowns = Counter(
            "tollgate_router_cooldowns",
            "Deployments put in cooldown by this replica",
            registry=registry,
        )
        self.in_flight = Gauge(
            "tollgate_router_in_flight",
            "Data-plane requests in progress",
            registry=registry,
        )
