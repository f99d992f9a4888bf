"""Pricing plans as pure functions: what a job holds at create and what it costs at complete.

Integer math only (credits and micro-USD); every division that produces credits rounds **up**, so
Tollgate never sells below the plan's price because of rounding.

Plan kinds
    ``per_job``             a flat price per job (``credits_per_job``), optionally per ``job_type``
                            (``per_job_type``); the hold is the price itself.
    ``consumption_usd``     ``ceil(cost_usd * (1 + markup) * credits_per_usd)``, at least
                            ``min_credits_per_job``; cost comes from the router (micro-USD).
    ``consumption_tokens``  ``ceil((prompt + completion tokens) / tokens_per_credit)``, at least
                            ``min_credits_per_job`` (cached tokens are part of the prompt count).

Every plan carries ``usd_micro_per_credit`` (revenue value of one credit, for margins) and a
``failed_job_policy`` applied to jobs that end ``failed`` or ``expired``:
    ``none``           nothing is charged;
    ``provider_cost``  the provider cost at the credit's value, no markup and no minimum
                       (``ceil(cost_micro_usd / usd_micro_per_credit)``), so a failing client
                       cannot make Tollgate pay for its calls;
    ``full``           the same price as a completed job.

Holds (consumption plans) are ``max_credits`` when the client sends it, else
``default_hold_credits``, capped at ``max_hold_credits`` and never below ``min_credits_per_job``.
The caller caps the captured amount at the hold (``settle_hold`` does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal
from uuid import UUID

from tollgate_api.errors import BadRequest, InvalidPlan

PlanKind = Literal["per_job", "consumption_usd", "consumption_tokens"]
FailedJobPolicy = Literal["none", "provider_cost", "full"]
Outcome = Literal["completed", "failed", "expired"]

PLAN_KINDS: Final[tuple[str, ...]] = ("per_job", "consumption_usd", "consumption_tokens")
FAILED_JOB_POLICIES: Final[tuple[str, ...]] = ("none", "provider_cost", "full")
MICRO: Final = 1_000_000
BPS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Plan:
    id: UUID
    name: str
    kind: PlanKind
    credits_per_job: int = 0
    per_job_type: Mapping[str, int] = field(default_factory=dict)
    credits_per_usd: int = 0
    markup_bps: int = 0
    tokens_per_credit: int = 0
    min_credits_per_job: int = 0
    usd_micro_per_credit: int = 0
    failed_job_policy: FailedJobPolicy = "none"
    default_hold_credits: int = 0
    max_hold_credits: int = 0


@dataclass(frozen=True, slots=True)
class JobUsage:
    calls: int = 0
    successful_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_micro_usd: int = 0


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def validate_plan(plan: Plan) -> None:  # noqa: PLR0912 - one flat rule per branch
    """Raise :class:`InvalidPlan` naming the first rule a plan breaks."""
    if plan.kind not in PLAN_KINDS:
        raise InvalidPlan(f"kind must be one of {', '.join(PLAN_KINDS)}")
    if plan.failed_job_policy not in FAILED_JOB_POLICIES:
        raise InvalidPlan(f"failed_job_policy must be one of {', '.join(FAILED_JOB_POLICIES)}")
    numbers = {
        "credits_per_job": plan.credits_per_job,
        "credits_per_usd": plan.credits_per_usd,
        "markup_bps": plan.markup_bps,
        "tokens_per_credit": plan.tokens_per_credit,
        "min_credits_per_job": plan.min_credits_per_job,
        "default_hold_credits": plan.default_hold_credits,
        "max_hold_credits": plan.max_hold_credits,
    }
    for name, value in numbers.items():
        if value < 0:
            raise InvalidPlan(f"{name} must not be negative")
    if plan.usd_micro_per_credit <= 0:
        raise InvalidPlan("usd_micro_per_credit must be positive")
    for job_type, price in plan.per_job_type.items():
        if price < 0 or not job_type:
            raise InvalidPlan("per_job_type prices must be non-negative and keyed by a job type")
    if plan.kind == "consumption_usd" and plan.credits_per_usd <= 0:
        raise InvalidPlan("credits_per_usd must be positive for consumption_usd plans")
    if plan.kind == "consumption_tokens" and plan.tokens_per_credit <= 0:
        raise InvalidPlan("tokens_per_credit must be positive for consumption_tokens plans")
    if plan.kind != "per_job":
        if plan.max_hold_credits <= 0:
            raise InvalidPlan("max_hold_credits must be positive for consumption plans")
        if plan.max_hold_credits < plan.min_credits_per_job:
            raise InvalidPlan("max_hold_credits must be at least min_credits_per_job")
        if plan.default_hold_credits > plan.max_hold_credits:
            raise InvalidPlan("default_hold_credits must not exceed max_hold_credits")


def job_price(plan: Plan, job_type: str | None) -> int:
    """The flat price of a job on a ``per_job`` plan."""
    if job_type is not None and job_type in plan.per_job_type:
        return plan.per_job_type[job_type]
    return plan.credits_per_job


def hold_amount(plan: Plan, *, job_type: str | None, max_credits: int | None) -> int:
    """Credits to hold when a job is created.

    Raises :class:`BadRequest` when ``max_credits`` cannot cover the least the job can cost.
    """
    if max_credits is not None and max_credits < 0:
        raise BadRequest("max_credits must not be negative")
    if plan.kind == "per_job":
        price = job_price(plan, job_type)
        if max_credits is not None and max_credits < price:
            raise BadRequest("max_credits is below the price of this job")
        return price
    wanted = plan.default_hold_credits if max_credits is None else max_credits
    if max_credits is not None and max_credits < plan.min_credits_per_job:
        raise BadRequest("max_credits is below the minimum price of a job")
    return max(plan.min_credits_per_job, min(wanted, plan.max_hold_credits))


def consumption_so_far(plan: Plan, usage: JobUsage, *, job_type: str | None) -> int:
    """What the job would cost if it completed now (compare with the hold before another call)."""
    if plan.kind == "per_job":
        return job_price(plan, job_type)
    if plan.kind == "consumption_usd":
        raw = _ceil_div(usage.cost_micro_usd * (BPS + plan.markup_bps) * plan.credits_per_usd, MICRO * BPS)
    else:
        raw = _ceil_div(usage.prompt_tokens + usage.completion_tokens, plan.tokens_per_credit)
    return max(plan.min_credits_per_job, raw)


def provider_cost_credits(plan: Plan, usage: JobUsage) -> int:
    """The provider cost in credits at the credit's revenue value (no markup, no minimum)."""
    return _ceil_div(usage.cost_micro_usd, plan.usd_micro_per_credit)


def price_job(plan: Plan, usage: JobUsage, *, job_type: str | None, outcome: Outcome) -> int:
    """Credits to capture when a job ends (the caller caps it at the hold)."""
    if outcome == "completed":
        return consumption_so_far(plan, usage, job_type=job_type)
    if plan.failed_job_policy == "none":
        return 0
    if plan.failed_job_policy == "provider_cost":
        return provider_cost_credits(plan, usage)
    return consumption_so_far(plan, usage, job_type=job_type)


def revenue_micro_usd(plan: Plan, credits: int) -> int:
    """The revenue a number of credits represents (for margins: revenue - provider cost)."""
    return credits * plan.usd_micro_per_credit
