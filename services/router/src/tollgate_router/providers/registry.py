"""Provider kinds → adapters. Adding a provider = one module + one line in ``PROVIDERS``."""

from __future__ import annotations

import ssl
from typing import Final

from tollgate_router.providers.anthropic import AnthropicProvider
from tollgate_router.providers.base import Provider
from tollgate_router.providers.http import UpstreamClient
from tollgate_router.providers.mock import MockProvider
from tollgate_router.providers.openai import (
    AzureOpenAIProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
)

__all__ = ["PROVIDERS", "ProviderRegistry", "UnknownProvider", "make_upstream_client"]

PROVIDERS: Final[dict[str, type[Provider]]] = {
    "mock": MockProvider,
    "openai": OpenAIProvider,
    "openai_compatible": OpenAICompatibleProvider,
    "azure_openai": AzureOpenAIProvider,
    "anthropic": AnthropicProvider,
}


class UnknownProvider(LookupError):
    """A deployment names a provider kind this build does not know."""


class ProviderRegistry:
    """One shared adapter instance per kind, all on the process's one upstream client."""

    def __init__(self, client: UpstreamClient, *, max_read_timeout_s: float = 120.0) -> None:
        self._instances = {
            kind: cls(client, max_read_timeout_s=max_read_timeout_s) for kind, cls in PROVIDERS.items()
        }

    def get(self, kind: str) -> Provider:
        try:
            return self._instances[kind]
        except KeyError:
            raise UnknownProvider(kind) from None


def make_upstream_client(
    *,
    pool_limit: int,
    pool_limit_per_host: int,
    connect_timeout_s: float,
    keepalive_s: float = 30.0,
    ssl_context: ssl.SSLContext | None = None,
) -> UpstreamClient:
    """The process's one upstream HTTP client (see docs/decisions/0010-router-hot-path-rework.md).

    Created in the app lifespan (it binds to the running loop) and closed in its ``finally``. The read
    timeout is the deployment's ``timeout_s`` capped by ``TOLLGATE_ROUTER_UPSTREAM_READ_TIMEOUT_S``
    (``Provider.read_timeout_for``), passed on every call; there is no total timeout.
    """
    return UpstreamClient(
        pool_limit=pool_limit,
        pool_limit_per_host=pool_limit_per_host,
        keepalive_s=keepalive_s,
        connect_timeout_s=connect_timeout_s,
        ssl_context=ssl_context,
    )
