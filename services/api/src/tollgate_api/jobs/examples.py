"""OpenAPI request-body examples for the job API (shown at ``/schema``)."""

from __future__ import annotations

from typing import Any

from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import BodyKwarg

_MESSAGES = [{"role": "user", "content": "Classify: 'I was charged twice this month.'"}]


def body(*examples: tuple[str, dict[str, Any]]) -> BodyKwarg:
    return BodyKwarg(
        media_type=RequestEncodingType.JSON,
        examples=[Example(summary=summary, value=value) for summary, value in examples],
    )


CREATE_JOB = body(
    ("A job", {"job_type": "ticket_triage", "metadata": {"ticket": 1042}, "idempotency_key": "ticket-1042"}),
    ("SaaS LiteLLM shape", {"team_id": "…", "user_id": "u-7", "job_type": "resume_parse", "metadata": {}}),
)
LLM_CALL = body(
    ("A call", {"model": "chat-fast", "messages": _MESSAGES, "purpose": "classify", "temperature": 0.2}),
    (
        "With tools",
        {
            "model": "chat-fast",
            "messages": _MESSAGES,
            "tools": [{"type": "function", "function": {"name": "route", "parameters": {"type": "object"}}}],
            "tool_choice": "auto",
        },
    ),
)
COMPLETE = body(
    ("Completed", {"status": "completed", "metadata": {"label": "billing"}}),
    ("Failed", {"status": "failed", "error_message": "the document was unreadable"}),
)
CREATE_AND_CALL = body(
    ("One-shot job", {"job_type": "ticket_triage", "model": "chat-fast", "messages": _MESSAGES}),
)
METADATA = body(("Merge", {"metadata": {"reviewed": True}}))

__all__ = ["COMPLETE", "CREATE_AND_CALL", "CREATE_JOB", "LLM_CALL", "METADATA"]
