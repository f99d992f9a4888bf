"""Operator views of jobs with their internals: cost, price, margin, and every call's model and tokens.

Served only under ``/admin`` (roles admin, operator, finance); never under ``/api``.
"""

from __future__ import annotations

import datetime
from typing import Any

import msgspec


class AdminCallView(msgspec.Struct):
    call_id: str
    model_group: str
    purpose: str | None
    status: str
    resolved_model: str | None
    deployment: str | None
    router_request_id: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_micro_usd: int
    latency_ms: int
    cache_hit: bool
    attempts: int
    streamed: bool
    finish_reason: str | None
    error_kind: str | None
    error: str | None
    created_at: datetime.datetime


class AdminJobCosts(msgspec.Struct):
    """Cost (router, micro-USD), price (credits captured, and their USD value) and margin."""

    calls: int
    successful_calls: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_micro_usd: int
    price_credits: int
    price_usd_micro: int
    margin_usd_micro: int
    aggregated: bool  # True when read from api.job_costs (the worker ran), else computed live
    computed_at: datetime.datetime | None


class AdminJobSummary(msgspec.Struct):
    job_id: str
    team_id: str
    user_id: str | None
    job_type: str | None
    status: str
    created_at: datetime.datetime
    completed_at: datetime.datetime | None
    expires_at: datetime.datetime
    credits_held: int
    credit_applied: int | None
    cost_micro_usd: int | None
    price_usd_micro: int | None
    margin_usd_micro: int | None


class AdminJobList(msgspec.Struct):
    jobs: list[AdminJobSummary]
    next_cursor: str | None


class AdminJobDetail(msgspec.Struct):
    job_id: str
    team_id: str
    user_id: str | None
    job_type: str | None
    status: str
    metadata: dict[str, Any]
    error_message: str | None
    plan: dict[str, Any]
    credits_held: int
    credit_applied: int | None
    model_groups_used: list[str]
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    expires_at: datetime.datetime
    costs: AdminJobCosts
    calls: list[AdminCallView]
