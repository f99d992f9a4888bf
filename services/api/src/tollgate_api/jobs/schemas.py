"""Wire shapes of the job API (snake_case JSON; field names follow SaaS LiteLLM's, see COMPAT.md).

Job statuses are returned **lower-case**: ``pending`` (created, no call yet), ``in_progress`` (at least
one call made), ``completed``, ``failed``, ``expired`` (left open past its TTL; its hold released or
charged per the plan's failed-job policy). Inputs accept either case (``COMPLETED`` = ``completed``).

Nothing here carries a router model, provider, cost or (unless the team's ``show_tokens`` is on) a
token count: optional fields use ``msgspec.UNSET`` and are left out of the JSON when unset.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

JobStatusName = Literal["pending", "in_progress", "completed", "failed", "expired"]
JOB_STATUSES: tuple[str, ...] = ("pending", "in_progress", "completed", "failed", "expired")

ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Metadata = dict[str, Any]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]


def normalize_status(value: str) -> str:
    """``COMPLETED`` / ``Completed`` / ``completed`` → ``completed`` (SaaS LiteLLM sends upper-case)."""
    return value.strip().lower()


# ------------------------------------------------------------------------------------------ requests


class CreateJobRequest(msgspec.Struct, forbid_unknown_fields=False):
    """``POST /api/jobs/create``. ``team_id`` is optional: the key decides (it must match if sent)."""

    team_id: str | None = None
    user_id: ShortText | None = None
    job_type: ShortText | None = None
    metadata: Metadata | None = None
    idempotency_key: ShortText | None = None
    max_credits: NonNegative | None = None


class CompleteJobRequest(msgspec.Struct):
    """``POST /api/jobs/{job_id}/complete``: ``status`` is ``completed`` or ``failed`` (any case)."""

    status: str
    metadata: Metadata | None = None
    error_message: Annotated[str, msgspec.Meta(max_length=2000)] | None = None
    # SaaS LiteLLM clients may send a result payload; it is merged into metadata["result"].
    result: Any = None


class MetadataPatch(msgspec.Struct):
    """``PATCH /api/jobs/{job_id}/metadata``: a shallow merge into the job's metadata."""

    metadata: Metadata


# ------------------------------------------------------------------------------------------ responses


class CreateJobResponse(msgspec.Struct):
    job_id: str
    status: str
    created_at: datetime.datetime
    expires_at: datetime.datetime
    credits_held: int


class JobView(msgspec.Struct):
    """``GET /api/jobs/{job_id}``: what a team may know about its job."""

    job_id: str
    team_id: str
    user_id: str | None
    job_type: str | None
    status: str
    created_at: datetime.datetime
    started_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    expires_at: datetime.datetime
    metadata: Metadata
    error_message: str | None
    credit_applied: int | None
    credits_held: int
    model_groups_used: list[str]


class JobList(msgspec.Struct):
    jobs: list[JobView]
    next_cursor: str | None
    # Set on SaaS LiteLLM's /api/teams/{team_id}/jobs path.
    team_id: str | UnsetType = UNSET


class MetadataView(msgspec.Struct):
    job_id: str
    metadata: Metadata
    updated_at: datetime.datetime


class JobCosts(msgspec.Struct, omit_defaults=True):
    """The team's view of a finished job: credits and call counts, never USD."""

    total_calls: int
    successful_calls: int
    failed_calls: int
    avg_latency_ms: int
    credit_applied: int
    credits_remaining: int
    total_tokens: int | UnsetType = UNSET


class JobCallSummary(msgspec.Struct, omit_defaults=True):
    call_id: str
    purpose: str | None
    model_group: str
    latency_ms: int
    error: str | None
    tokens: int | UnsetType = UNSET


class CompleteJobResponse(msgspec.Struct):
    job_id: str
    status: str
    completed_at: datetime.datetime
    costs: JobCosts
    calls: list[JobCallSummary]


class UsageByType(msgspec.Struct):
    count: int
    successful: int
    failed: int
    expired: int
    open: int
    credits_used: int


class UsageSummary(msgspec.Struct):
    total_jobs: int
    successful_jobs: int
    failed_jobs: int
    expired_jobs: int
    open_jobs: int
    credits_used: int


class UsageReport(msgspec.Struct):
    """``GET /api/usage?period=YYYY-MM`` (and ``/api/teams/{team_id}/usage``): credits, never USD."""

    team_id: str
    period: str
    summary: UsageSummary
    job_types: dict[str, UsageByType]


class CreditCheck(msgspec.Struct):
    has_credits: bool
    credits_needed: int
    available: int
