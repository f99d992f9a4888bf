"""Router domain objects for tests that drive the limiter (or other services) directly."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tollgate_common.errors import Unavailable
from tollgate_router.catalog.service import Deployment, Prices
from tollgate_router.keys.service import AuthedKey
from tollgate_router.limits.service import Limiter

__all__ = ["a_deployment", "a_key", "assert_fails_closed_for_keys_open_for_deployments"]


def a_key(**fields: Any) -> AuthedKey:
    base: dict[str, Any] = {
        "id": uuid.uuid4(),
        "owner_ref": "team",
        "allowed_models": None,
        "rpm": None,
        "tpm": None,
        "budget_micro_usd": None,
        "budget_period": "month",
        "log_prompts": False,
    }
    base.update(fields)
    return AuthedKey(**base)


def a_deployment(**fields: Any) -> Deployment:
    base: dict[str, Any] = {
        "id": uuid.uuid4(),
        "model_name": "chat",
        "provider_kind": "mock",
        "provider_name": "mock",
        "base_url": None,
        "api_key": None,
        "upstream_model": "m",
        "weight": 1,
        "prices": Prices(0, 0, 0, 0),
        "rpm": None,
        "tpm": None,
        "timeout_s": 5.0,
        "max_retries": 0,
        "cache_ttl_s": None,
        "settings": {},
    }
    base.update(fields)
    return Deployment(**base)


async def assert_fails_closed_for_keys_open_for_deployments(limiter: Limiter) -> None:
    """The limiter's contract when Redis cannot be reached (tollgate_router.limits docstring): a key's
    admit raises Unavailable, a deployment's admit lets the call through, a settle is logged, not raised."""
    with pytest.raises(Unavailable):
        await limiter.admit(a_key(budget_micro_usd=10), estimated_tokens=1, estimated_cost_micro_usd=1)
    assert await limiter.admit_deployment(a_deployment(rpm=1), estimated_tokens=1)
    reservation = await limiter.admit(a_key(), estimated_tokens=1, estimated_cost_micro_usd=1)
    reservation.has_budget = True
    await limiter.settle(reservation, actual_tokens=1, actual_cost_micro_usd=5)
