"""The only caller of the generated SQL for ``api.llm_calls``."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import llm_calls as sql
from tollgate_api.db.models import LlmCall, LlmCallStatus

Conn = AsyncConnection[Any]
UsageRow = sql.LlmCallUsageByJobRow

__all__ = ["CallRecord", "LlmCall", "LlmCallStatus", "UsageRow"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRecord:
    """Everything stored about one call (internal facts included)."""

    id: uuid.UUID
    job_id: uuid.UUID
    team_id: uuid.UUID
    model_group: str
    model_group_id: uuid.UUID | None
    purpose: str | None
    router_request_id: str | None
    resolved_model: str | None
    deployment: str | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    cost_micro_usd: int
    latency_ms: int
    status: LlmCallStatus
    error_kind: str | None
    error: str | None
    cache_hit: bool
    attempts: int
    streamed: bool
    finish_reason: str | None
    prompt: Any | None
    response_text: str | None
    retain_until: datetime.datetime | None


async def insert(conn: Conn, record: CallRecord) -> None:
    await sql.llm_call_insert(
        conn,
        id=record.id,
        job_id=record.job_id,
        team_id=record.team_id,
        model_group=record.model_group,
        model_group_id=record.model_group_id,
        purpose=record.purpose,
        router_request_id=record.router_request_id,
        resolved_model=record.resolved_model,
        deployment=record.deployment,
        prompt_tokens=record.prompt_tokens,
        completion_tokens=record.completion_tokens,
        cached_tokens=record.cached_tokens,
        cost_micro_usd=record.cost_micro_usd,
        latency_ms=record.latency_ms,
        status=record.status,
        error_kind=record.error_kind,
        error=record.error,
        cache_hit=record.cache_hit,
        attempts=record.attempts,
        streamed=record.streamed,
        finish_reason=record.finish_reason,
        prompt=record.prompt,
        response_text=record.response_text,
        retain_until=record.retain_until,
    )


async def list_for_job(conn: Conn, job_id: uuid.UUID) -> list[LlmCall]:
    return await sql.llm_call_list_by_job(conn, job_id=job_id)


async def usage_for_job(conn: Conn, job_id: uuid.UUID) -> UsageRow:
    row = await sql.llm_call_usage_by_job(conn, job_id=job_id)
    if row is None:  # an aggregate always answers one row
        return UsageRow(0, 0, 0, 0, 0, 0, 0, 0)
    return row
