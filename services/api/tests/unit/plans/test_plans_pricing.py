"""Pricing plans as pure integer functions: every plan kind, every failed-job policy, holds."""

from __future__ import annotations

import random
import uuid
from dataclasses import replace
from typing import Any

import pytest

from tollgate_api.errors import BadRequest, InvalidPlan
from tollgate_api.plans.pricing import (
    JobUsage,
    Plan,
    consumption_so_far,
    hold_amount,
    price_job,
    provider_cost_credits,
    revenue_micro_usd,
    validate_plan,
)

PER_JOB = Plan(
    id=uuid.uuid4(),
    name="flat",
    kind="per_job",
    credits_per_job=10,
    per_job_type={"summarize": 3},
    usd_micro_per_credit=10_000,
    failed_job_policy="none",
)
# 1 credit = $0.01; 100 credits per USD of provider cost with a 50 % markup; at least 2 credits.
USD = Plan(
    id=uuid.uuid4(),
    name="usd",
    kind="consumption_usd",
    credits_per_usd=100,
    markup_bps=5_000,
    min_credits_per_job=2,
    usd_micro_per_credit=10_000,
    failed_job_policy="provider_cost",
    default_hold_credits=50,
    max_hold_credits=500,
)
# 1 credit per 1000 tokens, at least 1.
TOKENS = Plan(
    id=uuid.uuid4(),
    name="tokens",
    kind="consumption_tokens",
    tokens_per_credit=1_000,
    min_credits_per_job=1,
    usd_micro_per_credit=5_000,
    failed_job_policy="full",
    default_hold_credits=20,
    max_hold_credits=100,
)

NO_USAGE = JobUsage()
USAGE = JobUsage(
    calls=2,
    successful_calls=2,
    prompt_tokens=1_500,
    completion_tokens=600,
    cached_tokens=1_000,
    cost_micro_usd=123_456,
)  # $0.123456


@pytest.mark.parametrize(
    ("plan", "usage", "job_type", "outcome", "expected"),
    [
        # per_job: flat price, per job type when listed
        (PER_JOB, USAGE, None, "completed", 10),
        (PER_JOB, USAGE, "summarize", "completed", 3),
        (PER_JOB, USAGE, "unknown-type", "completed", 10),
        (PER_JOB, NO_USAGE, None, "completed", 10),
        (PER_JOB, USAGE, None, "failed", 0),
        (PER_JOB, USAGE, None, "expired", 0),
        (replace(PER_JOB, failed_job_policy="full"), USAGE, "summarize", "failed", 3),
        (
            replace(PER_JOB, failed_job_policy="provider_cost"),
            USAGE,
            None,
            "failed",
            13,
        ),  # ceil(123456/10000)
        # consumption_usd: ceil(0.123456 * 1.5 * 100) = ceil(18.5184) = 19
        (USD, USAGE, None, "completed", 19),
        (USD, NO_USAGE, None, "completed", 2),  # the minimum
        (USD, JobUsage(cost_micro_usd=1), None, "completed", 2),
        (USD, JobUsage(cost_micro_usd=20_000), None, "completed", 3),  # exactly 3.0
        (USD, JobUsage(cost_micro_usd=20_001), None, "completed", 4),  # 3.00015 rounds up
        (USD, USAGE, None, "failed", 13),  # provider cost at the credit's value, no markup
        (USD, NO_USAGE, None, "failed", 0),  # no minimum for failures
        (USD, USAGE, None, "expired", 13),
        (replace(USD, failed_job_policy="none"), USAGE, None, "failed", 0),
        (replace(USD, failed_job_policy="full"), USAGE, None, "failed", 19),
        (replace(USD, markup_bps=0), USAGE, None, "completed", 13),
        # consumption_tokens: ceil((1500 + 600) / 1000) = 3
        (TOKENS, USAGE, None, "completed", 3),
        (TOKENS, NO_USAGE, None, "completed", 1),
        (TOKENS, JobUsage(prompt_tokens=1_000), None, "completed", 1),
        (TOKENS, JobUsage(prompt_tokens=1_001), None, "completed", 2),
        (TOKENS, USAGE, None, "failed", 3),  # policy full
        (replace(TOKENS, failed_job_policy="provider_cost"), USAGE, None, "failed", 25),  # ceil(123456/5000)
        (replace(TOKENS, failed_job_policy="none"), USAGE, None, "expired", 0),
    ],
)
def test_price_job(plan: Plan, usage: JobUsage, job_type: str | None, outcome: Any, expected: int) -> None:
    assert price_job(plan, usage, job_type=job_type, outcome=outcome) == expected


@pytest.mark.parametrize(
    ("plan", "job_type", "max_credits", "expected"),
    [
        (PER_JOB, None, None, 10),
        (PER_JOB, "summarize", None, 3),
        (PER_JOB, None, 100, 10),  # a per-job hold is the price, whatever the cap
        (USD, None, None, 50),  # plan default
        (USD, None, 30, 30),  # the client's cap
        (USD, None, 10_000, 500),  # capped by the plan
        (USD, None, 2, 2),  # the minimum is enough
        (replace(USD, default_hold_credits=0), None, None, 2),  # never below the minimum
        (TOKENS, None, None, 20),
        (TOKENS, None, 1, 1),
    ],
)
def test_hold_amount(plan: Plan, job_type: str | None, max_credits: int | None, expected: int) -> None:
    assert hold_amount(plan, job_type=job_type, max_credits=max_credits) == expected


@pytest.mark.parametrize(
    ("plan", "max_credits"),
    [(PER_JOB, 9), (USD, 1), (TOKENS, 0), (USD, -5)],
)
def test_hold_amount_refuses_a_cap_below_the_least_a_job_can_cost(plan: Plan, max_credits: int) -> None:
    with pytest.raises(BadRequest):
        hold_amount(plan, job_type=None, max_credits=max_credits)


def test_consumption_so_far_is_the_completed_price() -> None:
    assert consumption_so_far(USD, USAGE, job_type=None) == 19
    assert consumption_so_far(TOKENS, USAGE, job_type=None) == 3
    assert consumption_so_far(PER_JOB, USAGE, job_type="summarize") == 3


def test_revenue_and_provider_cost_are_integer_micro_usd() -> None:
    assert revenue_micro_usd(USD, 19) == 190_000
    assert provider_cost_credits(USD, JobUsage(cost_micro_usd=10_000)) == 1
    assert provider_cost_credits(USD, JobUsage(cost_micro_usd=10_001)) == 2


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"usd_micro_per_credit": 0}, "usd_micro_per_credit"),
        ({"credits_per_usd": 0}, "credits_per_usd"),
        ({"max_hold_credits": 0}, "max_hold_credits"),
        ({"max_hold_credits": 1}, "min_credits_per_job"),
        ({"default_hold_credits": 501}, "default_hold_credits"),
        ({"markup_bps": -1}, "markup_bps"),
        ({"kind": "tiered"}, "kind"),
        ({"failed_job_policy": "sometimes"}, "failed_job_policy"),
        ({"per_job_type": {"x": -1}}, "per_job_type"),
    ],
)
def test_validate_plan_names_the_broken_rule(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidPlan, match=message):
        validate_plan(replace(USD, **changes))


def test_validate_plan_accepts_the_examples() -> None:
    for plan in (PER_JOB, USD, TOKENS):
        validate_plan(plan)
    with pytest.raises(InvalidPlan, match="tokens_per_credit"):
        validate_plan(replace(TOKENS, tokens_per_credit=0))


def test_consumption_usd_never_undercharges_and_rounds_up_by_less_than_a_credit() -> None:
    rng = random.Random(4)
    for _ in range(2_000):
        cost, markup, per_usd = rng.randint(0, 10**12), rng.randint(0, 100_000), rng.randint(1, 10**6)
        plan = replace(USD, markup_bps=markup, credits_per_usd=per_usd, min_credits_per_job=0)
        credits = price_job(plan, JobUsage(cost_micro_usd=cost), job_type=None, outcome="completed")
        assert isinstance(credits, int)
        exact = cost * (10_000 + markup) * per_usd  # credits x 10^10, exactly
        assert credits * 10**10 >= exact > (credits - 1) * 10**10
