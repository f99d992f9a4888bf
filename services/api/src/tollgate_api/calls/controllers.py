"""HTTP for LLM calls in a job: JSON and SSE, and the one-request create-and-call variants.

The SSE chunk shape is documented in :mod:`tollgate_api.calls.schemas`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

from litestar import Controller, Request, post
from litestar.params import FromPath
from litestar.response import Stream

from tollgate_api.calls import service
from tollgate_api.calls.schemas import (
    CreateAndCallRequest,
    CreateAndCallResponse,
    LLMCallRequest,
    LLMCallResponse,
)
from tollgate_api.calls.service import SSE_DONE, StreamResult, problem_dict, sse
from tollgate_api.errors import TollgateError
from tollgate_api.jobs import examples
from tollgate_api.jobs import service as jobs_service
from tollgate_api.jobs.controllers import API_DEPENDENCIES, Jobs, Team, request_id_of
from tollgate_api.jobs.schemas import CreateJobRequest

SSE_HEADERS: Final = {"cache-control": "no-cache", "x-accel-buffering": "no"}


def _sse_response(events: AsyncIterator[bytes]) -> Stream:
    return Stream(content=events, media_type="text/event-stream", headers=SSE_HEADERS)


def _job_request(data: CreateAndCallRequest) -> CreateJobRequest:
    return CreateJobRequest(
        team_id=data.team_id,
        user_id=data.user_id,
        job_type=data.job_type,
        metadata=data.job_metadata,
        idempotency_key=data.idempotency_key,
        max_credits=data.max_credits,
    )


async def _fail_job(jobs: Jobs, team: Team, job_id: uuid.UUID, error: TollgateError) -> None:
    await jobs_service.complete_job(jobs, team, job_id, status="failed", error_message=error.detail)


class CallsController(Controller):
    path = "/api/jobs"
    tags = ["calls"]  # noqa: RUF012
    dependencies = API_DEPENDENCIES

    @post(
        "/{job_id:str}/llm-call",
        status_code=200,
        summary="Make an LLM call in a job",
        description=(
            "`model` is a model-group name the team was granted. 409 when the job is not open; 402 when "
            "a consumption plan's job has used the credits it holds. Retries and fallbacks happen behind "
            "the API: the team sees one answer."
        ),
    )
    async def llm_call(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[str],
        data: Annotated[LLMCallRequest, examples.LLM_CALL],
        team: Team,
        jobs: Jobs,
    ) -> LLMCallResponse:
        prepared = await service.prepare(jobs, team, jobs_service.parse_job_id(job_id), data)
        return await service.call(jobs, team, prepared, request_id=request_id_of(request))

    @post(
        "/{job_id:str}/llm-call-stream",
        status_code=200,
        media_type="text/event-stream",  # documented as SSE, not JSON (schema fuzzing)
        summary="Make a streamed LLM call in a job (SSE)",
        description="Events: `delta`, `tool_call`, then `done` {call_id, finish_reason}, then `[DONE]`.",
    )
    async def llm_call_stream(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[str],
        data: Annotated[LLMCallRequest, examples.LLM_CALL],
        team: Team,
        jobs: Jobs,
    ) -> Stream:
        prepared = await service.prepare(jobs, team, jobs_service.parse_job_id(job_id), data)
        opened = await service.open_stream(jobs, team, prepared, request_id=request_id_of(request))

        async def events() -> AsyncIterator[bytes]:
            async for chunk in service.stream_events(jobs, team, opened):
                yield chunk
            yield SSE_DONE

        return _sse_response(events())

    @post(
        "/create-and-call",
        status_code=200,
        summary="Create a job, make one call, complete it",
    )
    async def create_and_call(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[CreateAndCallRequest, examples.CREATE_AND_CALL],
        team: Team,
        jobs: Jobs,
    ) -> CreateAndCallResponse:
        job = await jobs_service.create_job(jobs, team, _job_request(data))
        try:
            prepared = await service.prepare(jobs, team, job.id, data)
            answer = await service.call(jobs, team, prepared, request_id=request_id_of(request))
        except TollgateError as exc:
            await _fail_job(jobs, team, job.id, exc)
            raise
        completion = await jobs_service.complete_job(jobs, team, job.id, status="completed")
        return CreateAndCallResponse(
            job_id=str(job.id),
            call_id=answer.call_id,
            status=completion.status,
            response=answer.response,
            metadata=answer.metadata,
            costs=completion.costs,
            completed_at=completion.completed_at,
        )

    @post(
        "/create-and-call-stream",
        status_code=200,
        media_type="text/event-stream",  # documented as SSE, not JSON (schema fuzzing)
        summary="Create a job, stream one call, complete it (SSE)",
        description=(
            "Events: `job` {job_id} first, then as `llm-call-stream`, then `job.completed` "
            "{job_id, status, costs} and `[DONE]`."
        ),
    )
    async def create_and_call_stream(
        self,
        request: Request[Any, Any, Any],
        data: Annotated[CreateAndCallRequest, examples.CREATE_AND_CALL],
        team: Team,
        jobs: Jobs,
    ) -> Stream:
        job = await jobs_service.create_job(jobs, team, _job_request(data))
        try:
            prepared = await service.prepare(jobs, team, job.id, data)
            opened = await service.open_stream(jobs, team, prepared, request_id=request_id_of(request))
        except TollgateError as exc:
            await _fail_job(jobs, team, job.id, exc)
            raise

        async def events() -> AsyncIterator[bytes]:
            yield sse({"type": "job", "job_id": str(job.id)})
            result = StreamResult()
            async for chunk in service.stream_events(jobs, team, opened, result=result):
                yield chunk
            try:
                if result.error is None:
                    completion = await jobs_service.complete_job(jobs, team, job.id, status="completed")
                else:
                    completion = await jobs_service.complete_job(
                        jobs, team, job.id, status="failed", error_message=result.error.detail
                    )
            except TollgateError as exc:
                yield sse({"type": "error", "error": problem_dict(exc)})
            else:
                yield sse(
                    {
                        "type": "job.completed",
                        "job_id": completion.job_id,
                        "status": completion.status,
                        "completed_at": completion.completed_at.isoformat(),
                        "costs": completion.costs,
                    }
                )
            yield SSE_DONE

        return _sse_response(events())
