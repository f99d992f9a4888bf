"""Router domain objects for tests that drive the limiter (or other services) directly."""

from __future__ import annotations

import uuid
from typing import Any

from tollgate_router.catalog.service import Deployment, Prices
from tollgate_router.keys.service import AuthedKey

__all__ = ["a_deployment", "a_key"]


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
