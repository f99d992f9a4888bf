"""Pricing plans on the wire (admin API)."""

from __future__ import annotations

import uuid
from datetime import datetime

import msgspec

from tollgate_api.plans.pricing import FailedJobPolicy, PlanKind


class PlanIn(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    kind: PlanKind
    usd_micro_per_credit: int
    credits_per_job: int = 0
    per_job_type: dict[str, int] = msgspec.field(default_factory=dict)
    credits_per_usd: int = 0
    markup_bps: int = 0
    tokens_per_credit: int = 0
    min_credits_per_job: int = 0
    failed_job_policy: FailedJobPolicy = "none"
    default_hold_credits: int = 0
    max_hold_credits: int = 0


class PlanOut(msgspec.Struct):
    id: uuid.UUID
    name: str
    kind: PlanKind
    usd_micro_per_credit: int
    credits_per_job: int
    per_job_type: dict[str, int]
    credits_per_usd: int
    markup_bps: int
    tokens_per_credit: int
    min_credits_per_job: int
    failed_job_policy: FailedJobPolicy
    default_hold_credits: int
    max_hold_credits: int
    created_at: datetime
    updated_at: datetime
