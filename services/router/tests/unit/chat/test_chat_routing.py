"""Deployment choice: weighted, least_busy, lowest_latency."""

from __future__ import annotations

import collections
import random
import uuid
from dataclasses import dataclass, field

from tollgate_router.chat.routing import DeploymentStats, pick


@dataclass(frozen=True)
class D:
    weight: int = 1
    id: uuid.UUID = field(default_factory=uuid.uuid4)


def test_weighted_follows_the_weights() -> None:
    random.seed(1)
    heavy, light, off = D(weight=9), D(weight=1), D(weight=0)
    counts = collections.Counter(
        pick("weighted", [heavy, light, off], DeploymentStats()).id for _ in range(5000)
    )
    assert counts[off.id] == 0
    assert 0.85 < counts[heavy.id] / 5000 < 0.95


def test_weighted_with_all_weights_zero_is_uniform() -> None:
    a, b = D(weight=0), D(weight=0)
    seen = {pick("weighted", [a, b], DeploymentStats()).id for _ in range(200)}
    assert seen == {a.id, b.id}


def test_least_busy_picks_the_deployment_with_fewest_calls_in_flight() -> None:
    stats = DeploymentStats()
    a, b = D(), D()
    stats.started(a.id)
    stats.started(a.id)
    stats.started(b.id)
    assert pick("least_busy", [a, b], stats) is b
    stats.finished(a.id)
    stats.finished(a.id)
    assert pick("least_busy", [a, b], stats) is a


def test_lowest_latency_prefers_the_fastest_and_explores_unmeasured_ones() -> None:
    stats = DeploymentStats()
    slow, fast, new = D(), D(), D()
    stats.succeeded(slow.id, 0.5)
    stats.succeeded(fast.id, 0.05)
    assert pick("lowest_latency", [slow, fast], stats) is fast
    assert pick("lowest_latency", [slow, fast, new], stats) is new


def test_failures_count_consecutively_and_reset_on_success() -> None:
    stats = DeploymentStats()
    d = D()
    assert stats.failed(d.id) == 1
    assert stats.failed(d.id) == 2
    stats.succeeded(d.id, 0.1)
    assert stats.failed(d.id) == 1
