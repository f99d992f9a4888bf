"""LLM calls inside a job: checks, the router call, and the durable call record.

Flow of one call (JSON or SSE):

1. ``prepare``: resolve the model group for the team (404 that reveals nothing), mark the job in
   progress if it is open (else 404/409), refuse with 402 when a consumption plan's job has already
   used its hold, or 409 past ``jobs.max_calls_per_job``.
2. The router answers (``/v1/chat/completions`` with the team's virtual key); its headers say which
   model and deployment served the call and what it cost.
3. ``record``: the ``api.llm_calls`` row is written **before** the team gets its answer, in a
   transaction that takes the job row ``FOR SHARE`` — a complete running at the same moment holds it
   ``FOR UPDATE``, so a call is either counted in the job's price or told that the job is no longer
   open (409; it is still recorded, because it was paid for).
4. Router failures become client errors that name no model or provider (:func:`client_error`);
   failed calls are recorded too.
"""

from __future__ import annotations

import asyncio
import datetime
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec
import structlog

from tollgate_api.auth.team import TeamPrincipal
from tollgate_api.calls import repository as repo
from tollgate_api.calls.schemas import (
    CallMetadata,
    CallParameters,
    CallResponseBody,
    LLMCallResponse,
)
from tollgate_api.errors import (
    AIBudgetExceeded,
    AIRateLimited,
    AIRequestRejected,
    BadRequest,
    CreditLimitReached,
    JobCallLimitReached,
    JobNotFound,
    JobNotOpen,
    TollgateError,
    UpstreamFailed,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from tollgate_api.jobs import repository as jobs_repo
from tollgate_api.jobs.service import OPEN_STATUSES, JobsContext, plan_of, usage_of
from tollgate_api.modelgroups.service import ResolvedModelGroup, resolve_for_team
from tollgate_api.plans.pricing import consumption_so_far
from tollgate_api.routerclient import RouterError, RouterMeta, RouterStream
from tollgate_common.db import connection, transaction
from tollgate_common.errors import error_body

_log = structlog.get_logger("tollgate.calls")
_encode = msgspec.json.Encoder().encode

SSE_DONE: Final = b"data: [DONE]\n\n"
_background: set[asyncio.Task[Any]] = set()


def sse(event: dict[str, Any] | msgspec.Struct) -> bytes:
    return b"data: " + _encode(event) + b"\n\n"


def client_error(exc: RouterError) -> TollgateError:
    """The router's failure as the team may see it: no model, provider or cost named."""
    if exc.kind == "rate_limited":
        return AIRateLimited(
            "Too many requests for this team; retry after the indicated time.",
            retry_after_s=exc.retry_after_s or 1,
        )
    if exc.kind == "budget":
        return AIBudgetExceeded("The team's usage limit is reached; contact your provider of this service.")
    if exc.kind == "rejected":
        return AIRequestRejected(
            "The AI service rejected the request (for example too long, or invalid parameters)."
        )
    if exc.kind == "auth":
        return UpstreamUnavailable(
            "The AI service is not available for this team right now.", retry_after_s=5
        )
    if exc.kind == "unreachable":
        return UpstreamUnavailable("The AI service is unavailable; retry.", retry_after_s=2)
    if exc.kind == "unavailable":
        return UpstreamUnavailable(
            "The AI service is temporarily unavailable; retry.", retry_after_s=exc.retry_after_s or 2
        )
    if exc.kind == "timeout":
        return UpstreamTimeout("The AI service did not answer in time; retry.")
    return UpstreamFailed("The AI service failed; retry.")


def problem_dict(error: TollgateError) -> dict[str, Any]:
    decoded: dict[str, Any] = msgspec.json.decode(error_body(error))
    return decoded


@dataclass(frozen=True, slots=True)
class PreparedCall:
    job: jobs_repo.Job
    group: ResolvedModelGroup
    params: CallParameters
    router_body: dict[str, Any]


@dataclass(slots=True)
class Outcome:
    """What is known about a call when it is recorded."""

    meta: RouterMeta
    latency_ms: int
    status: repo.LlmCallStatus
    usage: dict[str, Any] | None = None
    content: str | None = None
    finish_reason: str | None = None
    error_kind: str | None = None
    error: str | None = None
    streamed: bool = False


# ------------------------------------------------------------------------------------------ prepare


async def prepare(
    ctx: JobsContext, team: TeamPrincipal, job_id: uuid.UUID, params: CallParameters
) -> PreparedCall:
    name = params.group_name
    if not name:
        raise BadRequest("model is required: the name of a model group.")
    group = await resolve_for_team(ctx.pool, team.team_id, name)
    async with connection(ctx.pool) as conn:
        job = await jobs_repo.get_for_team(conn, job_id=job_id, team_id=team.team_id)
        if job is None:
            raise JobNotFound()
        if job.status not in OPEN_STATUSES:
            raise JobNotOpen(f"The job is {job.status}; create a new job.")
        usage = await repo.usage_for_job(conn, job.id)
        if usage.calls >= ctx.settings.jobs.max_calls_per_job:
            raise JobCallLimitReached()
        plan = plan_of(job)
        if (
            plan.kind != "per_job"
            and usage.calls > 0
            and consumption_so_far(plan, usage_of(usage), job_type=job.job_type) >= job.hold_credits
        ):
            raise CreditLimitReached(
                "The job has used the credits it holds; complete it and start a new one "
                "(or create jobs with a larger max_credits)."
            )
        started = await jobs_repo.start_call(
            conn,
            job_id=job.id,
            team_id=team.team_id,
            model_group=group.name,
            metadata_patch=dict(params.call_metadata or {}),
        )
    if started is None:
        raise JobNotOpen()
    return PreparedCall(
        job=started, group=group, params=params, router_body=params.router_body(group.router_model)
    )


# ------------------------------------------------------------------------------------------ record


def _tokens(usage: dict[str, Any] | None) -> tuple[int, int, int]:
    if not usage:
        return 0, 0, 0
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens", 0) if isinstance(details, dict) else 0
    return (
        int(usage.get("prompt_tokens") or 0),
        int(usage.get("completion_tokens") or 0),
        int(cached or 0),
    )


async def record(
    ctx: JobsContext, team: TeamPrincipal, prepared: PreparedCall, outcome: Outcome
) -> tuple[uuid.UUID, bool]:
    """Store the call; returns (call id, whether the job was still open when it was stored)."""
    prompt_tokens, completion_tokens, cached_tokens = _tokens(outcome.usage)
    keep = team.store_prompts and team.retention_days > 0
    call_id = uuid.uuid4()
    record_row = repo.CallRecord(
        id=call_id,
        job_id=prepared.job.id,
        team_id=team.team_id,
        model_group=prepared.group.name,
        model_group_id=prepared.group.id,
        purpose=prepared.params.purpose,
        router_request_id=outcome.meta.request_id,
        resolved_model=outcome.meta.model,
        deployment=outcome.meta.deployment,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cached_tokens=cached_tokens,
        cost_micro_usd=outcome.meta.cost_micro_usd,
        latency_ms=outcome.latency_ms,
        status=outcome.status,
        error_kind=outcome.error_kind,
        error=outcome.error,
        cache_hit=outcome.meta.cache_hit,
        attempts=outcome.meta.attempts,
        streamed=outcome.streamed,
        finish_reason=outcome.finish_reason,
        prompt=prepared.params.messages if keep else None,
        response_text=outcome.content if keep else None,
        retain_until=(
            datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=team.retention_days)
            if keep
            else None
        ),
    )
    async with transaction(ctx.pool) as conn:
        status = await jobs_repo.lock_shared_status(conn, prepared.job.id)
        await repo.insert(conn, record_row)
    return call_id, status in OPEN_STATUSES


def _spawn(coro: Awaitable[Any]) -> None:
    task = asyncio.ensure_future(coro)
    _background.add(task)
    task.add_done_callback(_background.discard)


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


async def _record_failure(
    ctx: JobsContext,
    team: TeamPrincipal,
    prepared: PreparedCall,
    exc: RouterError,
    started: float,
    *,
    streamed: bool,
) -> TollgateError:
    error = client_error(exc)
    _log.warning(
        "llm_call_failed",
        job_id=str(prepared.job.id),
        kind=exc.kind,
        router_status=exc.status,
        router_request_id=exc.meta.request_id,
    )
    await record(
        ctx,
        team,
        prepared,
        Outcome(
            meta=exc.meta,
            latency_ms=_elapsed_ms(started),
            status="failed",
            error_kind=exc.kind,
            error=error.detail,
            streamed=streamed,
        ),
    )
    return error


# ------------------------------------------------------------------------------------------ JSON


def _metadata(
    prepared: PreparedCall, team: TeamPrincipal, latency_ms: int, usage: dict[str, Any] | None
) -> CallMetadata:
    meta = CallMetadata(latency_ms=latency_ms, model=prepared.group.name)
    if team.show_tokens:
        prompt, completion, _ = _tokens(usage)
        meta.tokens_used = prompt + completion
    return meta


async def call(
    ctx: JobsContext, team: TeamPrincipal, prepared: PreparedCall, *, request_id: str
) -> LLMCallResponse:
    started = time.perf_counter()
    try:
        reply = await ctx.router.chat(
            prepared.router_body, virtual_key=team.virtual_key, request_id=request_id
        )
    except RouterError as exc:
        raise await _record_failure(ctx, team, prepared, exc, started, streamed=False) from None
    latency_ms = _elapsed_ms(started)
    choice = reply.body["choices"][0] if isinstance(reply.body["choices"][0], dict) else {}
    message = choice.get("message") or {}
    content = message.get("content") if isinstance(message, dict) else None
    tool_calls = message.get("tool_calls") if isinstance(message, dict) else None
    usage = reply.body.get("usage") if isinstance(reply.body.get("usage"), dict) else None
    finish_reason = choice.get("finish_reason")
    call_id, still_open = await record(
        ctx,
        team,
        prepared,
        Outcome(
            meta=reply.meta,
            latency_ms=latency_ms,
            status="succeeded",
            usage=usage,
            content=content if isinstance(content, str) else None,
            finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        ),
    )
    if not still_open:
        raise JobNotOpen("The job finished while the call was running.")
    body = CallResponseBody(
        content=content if isinstance(content, str) else None,
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
    )
    if isinstance(tool_calls, list) and tool_calls:
        body.tool_calls = [_tool_call_view(tc) for tc in tool_calls if isinstance(tc, dict)]
    return LLMCallResponse(
        call_id=str(call_id), response=body, metadata=_metadata(prepared, team, latency_ms, usage)
    )


def _tool_call_view(tool_call: dict[str, Any]) -> dict[str, Any]:
    """Only the OpenAI tool-call fields a client needs (nothing a provider might add)."""
    fn = tool_call.get("function") or {}
    return {
        "id": tool_call.get("id"),
        "type": tool_call.get("type", "function"),
        "function": {"name": fn.get("name"), "arguments": fn.get("arguments")},
    }


# ------------------------------------------------------------------------------------------ SSE


@dataclass(slots=True)
class OpenStream:
    prepared: PreparedCall
    stream: RouterStream
    started: float


async def open_stream(
    ctx: JobsContext, team: TeamPrincipal, prepared: PreparedCall, *, request_id: str
) -> OpenStream:
    """Start the router stream before the response starts, so early failures keep their status."""
    started = time.perf_counter()
    stream = ctx.router.stream(prepared.router_body, virtual_key=team.virtual_key, request_id=request_id)
    try:
        await stream.__aenter__()
    except RouterError as exc:
        raise await _record_failure(ctx, team, prepared, exc, started, streamed=True) from None
    return OpenStream(prepared=prepared, stream=stream, started=started)


@dataclass(slots=True)
class StreamResult:
    call_id: uuid.UUID | None = None
    finish_reason: str | None = None
    error: TollgateError | None = None


AfterDone = Callable[[StreamResult], AsyncIterator[bytes]]


async def stream_events(
    ctx: JobsContext,
    team: TeamPrincipal,
    opened: OpenStream,
    *,
    result: StreamResult | None = None,
) -> AsyncIterator[bytes]:
    """Tollgate SSE events for an open router stream (without the final ``[DONE]``).

    A client disconnect cancels this generator: the router connection is closed (which stops the
    upstream call) and what was used so far is recorded in the background.
    """
    result = result if result is not None else StreamResult()
    stream, prepared = opened.stream, opened.prepared
    finished = False
    try:
        async for event in stream:
            if event.content:
                yield sse({"type": "delta", "content": event.content})
            for piece in event.tool_calls:
                fn = piece.get("function") or {}
                yield sse(
                    {
                        "type": "tool_call",
                        "index": piece.get("index", 0),
                        "id": piece.get("id"),
                        "name": fn.get("name"),
                        "arguments": fn.get("arguments"),
                    }
                )
        finished = True
        await stream.__aexit__(None, None, None)
        latency_ms = _elapsed_ms(opened.started)
        call_id, still_open = await record(
            ctx,
            team,
            prepared,
            Outcome(
                meta=stream.meta,
                latency_ms=latency_ms,
                status="succeeded",
                usage=stream.usage,
                content=stream.text,
                finish_reason=stream.finish_reason,
                streamed=True,
            ),
        )
        result.call_id, result.finish_reason = call_id, stream.finish_reason
        if not still_open:
            result.error = JobNotOpen("The job finished while the call was running.")
            yield sse({"type": "error", "error": problem_dict(result.error)})
            return
        done: dict[str, Any] = {
            "type": "done",
            "call_id": str(call_id),
            "finish_reason": stream.finish_reason,
            "latency_ms": latency_ms,
        }
        if team.show_tokens:
            prompt, completion, _ = _tokens(stream.usage)
            done["tokens_used"] = prompt + completion
        yield sse(done)
    except RouterError as exc:
        finished = True
        await stream.__aexit__(None, None, None)
        result.error = await _record_failure(ctx, team, prepared, exc, opened.started, streamed=True)
        yield sse({"type": "error", "error": problem_dict(result.error)})
    finally:
        if not finished:
            # Cancelled (client gone) or closed early: stop the upstream call, keep the record.
            await _close_quietly(stream)
            _spawn(_record_cancelled(ctx, team, opened))


async def _close_quietly(stream: RouterStream) -> None:
    try:
        await stream.__aexit__(None, None, None)
    except Exception as exc:  # closing a broken connection may itself fail
        _log.debug("router_stream_close_failed", error=type(exc).__name__)


async def _record_cancelled(ctx: JobsContext, team: TeamPrincipal, opened: OpenStream) -> None:
    stream = opened.stream
    usage = stream.usage
    if usage is None and stream.parts:
        # The router had not sent usage yet: count what was forwarded (reconciled later from the router).
        usage = {"prompt_tokens": 0, "completion_tokens": max(1, -(-len(stream.text) // 4))}
    try:
        await record(
            ctx,
            team,
            opened.prepared,
            Outcome(
                meta=stream.meta,
                latency_ms=_elapsed_ms(opened.started),
                status="cancelled",
                usage=usage,
                content=stream.text,
                finish_reason=stream.finish_reason,
                error_kind="client_disconnected",
                error="The client disconnected before the answer ended.",
                streamed=True,
            ),
        )
        _log.info("llm_call_cancelled", job_id=str(opened.prepared.job.id))
    except Exception:
        _log.exception("llm_call_cancel_record_failed", job_id=str(opened.prepared.job.id))
