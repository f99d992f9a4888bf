"""Exact cost of a call, in integer micro-USD. No floats anywhere.

Prices are micro-USD per one million tokens (``catalog.Prices``). Usage is normalized
(``providers.base.Usage``: ``prompt_tokens`` is the whole prompt, cached and cache-written included).

The rule, identical for streamed and non-streamed calls and for every provider::

    uncached = prompt_tokens - cached_tokens - cache_write_tokens
    scaled   = uncached * input + cached_tokens * cached_input
             + cache_write_tokens * cache_write + completion_tokens * output   # micro-USD x 1e6
    cost     = (scaled + 500_000) // 1_000_000                                   # round half up, ONCE

Rounding happens once per call on the exact sum, so a call's cost never depends on how its tokens
were split between categories or chunks; summing costs of many calls may differ from pricing their
summed usage by at most 0.5 micro-USD per call (that's what "per call" pricing means).
"""

from __future__ import annotations

from typing import Final, Protocol

from tollgate_router.providers.base import Usage

__all__ = ["PER_MILLION", "PriceTable", "cost_micro_usd", "estimate_cost_micro_usd", "scaled_cost"]

PER_MILLION: Final = 1_000_000


class PriceTable(Protocol):
    """``catalog.Prices``: micro-USD per 1M tokens."""

    @property
    def input(self) -> int: ...
    @property
    def output(self) -> int: ...
    @property
    def cached_input(self) -> int: ...
    @property
    def cache_write(self) -> int: ...


def scaled_cost(usage: Usage, prices: PriceTable) -> int:
    """The exact cost in micro-USD x 1e6 (no rounding yet)."""
    prompt = max(0, usage.prompt_tokens)
    cached = min(max(0, usage.cached_tokens), prompt)
    written = min(max(0, usage.cache_write_tokens), prompt - cached)
    uncached = prompt - cached - written
    return (
        uncached * prices.input
        + cached * prices.cached_input
        + written * prices.cache_write
        + max(0, usage.completion_tokens) * prices.output
    )


def cost_micro_usd(usage: Usage, prices: PriceTable) -> int:
    """The cost of one call: the exact sum, rounded half up once."""
    return (scaled_cost(usage, prices) + PER_MILLION // 2) // PER_MILLION


def estimate_cost_micro_usd(prompt_tokens: int, max_completion_tokens: int, prices: PriceTable) -> int:
    """An upper bound used to reserve budget before the call: every prompt token at the dearer of
    input and cache-write prices, every allowed completion token at the output price, rounded up."""
    scaled = prompt_tokens * max(prices.input, prices.cache_write) + max_completion_tokens * prices.output
    return -(-scaled // PER_MILLION)
