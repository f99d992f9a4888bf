"""Provider kinds → adapters. Adding a provider = one module + one line in ``PROVIDERS``."""

from __future__ import annotations

from typing import Final

import aiohttp

from tollgate_router.providers.anthropic import AnthropicProvider
from tollgate_router.providers.base import Provider
from tollgate_router.providers.mock import MockProvider
from tollgate_router.providers.openai import (
    AzureOpenAIProvider,
    OpenAICompatibleProvider,
    OpenAIProvider,
)

__all__ = ["PROVIDERS", "ProviderRegistry", "UnknownProvider", "make_upstream_session"]

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
    """One shared adapter instance per kind, all on the process's one upstream session."""

    def __init__(self, session: aiohttp.ClientSession, *, connect_timeout_s: float = 5.0) -> None:
        self._instances = {
            kind: cls(session, connect_timeout_s=connect_timeout_s) for kind, cls in PROVIDERS.items()
        }

    def get(self, kind: str) -> Provider:
        try:
            return self._instances[kind]
        except KeyError:
            raise UnknownProvider(kind) from None


def make_upstream_session(
    *, pool_limit: int, pool_limit_per_host: int, connect_timeout_s: float, read_timeout_s: float
) -> aiohttp.ClientSession:
    """The process's one upstream HTTP client (see docs/decisions/0002-hot-path-http-stack.md).

    Created in the app lifespan and closed in its ``finally``. Per-call timeouts (connect and read
    from the deployment) are passed on each request; these are the defaults.
    """
    connector = aiohttp.TCPConnector(
        limit=pool_limit,
        limit_per_host=pool_limit_per_host,
        ttl_dns_cache=300,
        keepalive_timeout=30,
        enable_cleanup_closed=True,
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=None, connect=connect_timeout_s, sock_connect=connect_timeout_s, sock_read=read_timeout_s
        ),
        skip_auto_headers=("User-Agent",),
        auto_decompress=True,
        trust_env=False,
        raise_for_status=False,
    )
