"""Wire shapes of LLM calls made inside a job (JSON and SSE).

The SSE stream of ``/llm-call-stream`` (and ``/create-and-call-stream``) has ONE Tollgate chunk shape,
whatever the provider behind the model group::

    data: {"type": "job", "job_id": "…"}                          (create-and-call-stream only, first)
    data: {"type": "delta", "content": "…"}                        (0..n, as tokens arrive)
    data: {"type": "tool_call", "index": 0, "id": "…", "name": "…", "arguments": "…"}   (partial pieces)
    data: {"type": "done", "call_id": "…", "finish_reason": "stop", "latency_ms": 123}
    data: {"type": "job.completed", "job_id": "…", "status": "completed", "costs": {…}}
                                                                   (create-and-call-stream only)
    data: {"type": "error", "error": {"type": "…", "title": "…", "status": 502, "detail": "…"}}
    data: [DONE]

An error after the stream started is sent as an ``error`` event followed by ``[DONE]``; errors found
before the first byte are ordinary problem-details responses with their HTTP status.
"""

from __future__ import annotations

import datetime
from typing import Annotated, Any

import msgspec
from msgspec import UNSET, UnsetType

from tollgate_api.jobs.schemas import JobCosts, Metadata, ShortText

Message = dict[str, Any]


class CallParameters(msgspec.Struct, kw_only=True):
    """What a team may send with a call; ``model`` is a model-group name (``model_group`` also works)."""

    model: ShortText | None = None
    model_group: ShortText | None = None
    messages: Annotated[list[Message], msgspec.Meta(min_length=1)]
    purpose: ShortText | None = None
    temperature: Annotated[float, msgspec.Meta(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, msgspec.Meta(ge=1)] | None = None
    top_p: Annotated[float, msgspec.Meta(ge=0, le=1)] | None = None
    frequency_penalty: Annotated[float, msgspec.Meta(ge=-2, le=2)] | None = None
    presence_penalty: Annotated[float, msgspec.Meta(ge=-2, le=2)] | None = None
    stop: str | list[str] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    call_metadata: Metadata | None = None

    @property
    def group_name(self) -> str | None:
        return self.model or self.model_group

    def router_body(self, router_model: str) -> dict[str, Any]:
        """The OpenAI-format body sent to the router (only parameters the team set)."""
        body: dict[str, Any] = {"model": router_model, "messages": self.messages}
        for name in (
            "temperature",
            "max_tokens",
            "top_p",
            "frequency_penalty",
            "presence_penalty",
            "stop",
            "tools",
            "tool_choice",
            "response_format",
            "seed",
        ):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body


class LLMCallRequest(CallParameters, kw_only=True):
    """``POST /api/jobs/{job_id}/llm-call`` and ``/llm-call-stream``."""


class CreateAndCallRequest(CallParameters, kw_only=True):
    """``POST /api/jobs/create-and-call`` (and ``-stream``): one job, one call, completed."""

    team_id: str | None = None
    user_id: ShortText | None = None
    job_type: ShortText | None = None
    job_metadata: Metadata | None = None
    idempotency_key: ShortText | None = None
    max_credits: Annotated[int, msgspec.Meta(ge=0)] | None = None


class CallResponseBody(msgspec.Struct, omit_defaults=True):
    content: str | None
    finish_reason: str | None
    tool_calls: list[dict[str, Any]] | UnsetType = UNSET


class CallMetadata(msgspec.Struct, omit_defaults=True):
    latency_ms: int
    model: str  # the model-group name the client sent, never a real model
    tokens_used: int | UnsetType = UNSET


class LLMCallResponse(msgspec.Struct):
    call_id: str
    response: CallResponseBody
    metadata: CallMetadata


class CreateAndCallResponse(msgspec.Struct):
    job_id: str
    call_id: str
    status: str
    response: CallResponseBody
    metadata: CallMetadata
    costs: JobCosts
    completed_at: datetime.datetime
