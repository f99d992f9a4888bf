"""Exact integer pricing: one rounding per call, cached and cache-write tokens at their own prices."""

from __future__ import annotations

import random
from dataclasses import dataclass

from tollgate_router.chat.pricing import cost_micro_usd, estimate_cost_micro_usd, scaled_cost
from tollgate_router.providers.base import Usage


@dataclass(frozen=True)
class P:
    input: int
    output: int
    cached_input: int
    cache_write: int


GPT4O = P(input=2_500_000, output=10_000_000, cached_input=1_250_000, cache_write=0)
SONNET = P(input=3_000_000, output=15_000_000, cached_input=300_000, cache_write=3_750_000)


def test_cost_prices_each_token_category_at_its_own_price() -> None:
    usage = Usage(prompt_tokens=1000, completion_tokens=200, cached_tokens=400, cache_write_tokens=100)
    # 500 uncached * 3 + 400 cached * 0.3 + 100 written * 3.75 + 200 out * 15 (micro-USD per token)
    assert cost_micro_usd(usage, SONNET) == 1500 + 120 + 375 + 3000


def test_cost_rounds_half_up_once_on_the_exact_sum() -> None:
    # 1 token at 0.5 micro-USD -> 1 ; 1 token at 0.4999 -> 0 ; two categories at 0.3 each -> 0.6 -> 1
    assert cost_micro_usd(Usage(prompt_tokens=1), P(500_000, 0, 0, 0)) == 1
    assert cost_micro_usd(Usage(prompt_tokens=1), P(499_999, 0, 0, 0)) == 0
    assert cost_micro_usd(Usage(prompt_tokens=1, completion_tokens=1), P(300_000, 300_000, 0, 0)) == 1


def test_cached_tokens_never_exceed_the_prompt() -> None:
    usage = Usage(prompt_tokens=10, cached_tokens=50, cache_write_tokens=50)
    assert scaled_cost(usage, SONNET) == 10 * SONNET.cached_input


def test_cost_is_an_integer_within_half_a_micro_usd_of_the_exact_value() -> None:
    rng = random.Random(7)
    for _ in range(2000):
        prompt = rng.randrange(0, 2_000_000)
        usage = Usage(
            prompt_tokens=prompt,
            completion_tokens=rng.randrange(0, 200_000),
            cached_tokens=rng.randrange(0, prompt + 1),
        )
        cost = cost_micro_usd(usage, GPT4O)
        assert isinstance(cost, int)
        assert abs(cost * 1_000_000 - scaled_cost(usage, GPT4O)) <= 500_000


def test_estimate_is_an_upper_bound_of_the_real_cost() -> None:
    estimate = estimate_cost_micro_usd(1000, 100, SONNET)
    for cached, written in ((0, 0), (1000, 0), (0, 1000), (300, 300)):
        usage = Usage(
            prompt_tokens=1000, completion_tokens=100, cached_tokens=cached, cache_write_tokens=written
        )
        assert cost_micro_usd(usage, SONNET) <= estimate
