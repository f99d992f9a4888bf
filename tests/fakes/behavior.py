"""What a fake provider does with one request: the scripting vocabulary shared by every fake.

A `Behavior` is provider-neutral: the same value means the same thing to `FakeOpenAI` and
`FakeAnthropic`, and each fake renders it in its own wire format.

Token accounting (provider-neutral, then mapped):
- `prompt_tokens` is the *total* prompt size, cached and cache-written tokens included.
  OpenAI reports it as `usage.prompt_tokens` with `prompt_tokens_details.cached_tokens = cached_tokens`.
  Anthropic reports `input_tokens = prompt_tokens - cached_tokens - cache_write_tokens`,
  `cache_read_input_tokens = cached_tokens`, `cache_creation_input_tokens = cache_write_tokens`.
- Unset counts are derived deterministically: `estimate_tokens(text) = max(1, ceil(len(text) / 4))`
  over the request's text (see `prompt_text` in each fake) and over the reply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Behavior", "ToolCall", "estimate_tokens"]


def estimate_tokens(text: str) -> int:
    """The fakes' tokenizer: one token per started group of 4 characters, at least 1."""
    return max(1, math.ceil(len(text) / 4))


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall:
    """A tool (function) call the fake answers with.

    `arguments` as a mapping is JSON-encoded compactly; as a string it is sent verbatim to OpenAI
    clients (so a test can send malformed JSON) and parsed for Anthropic (`input` must be an object).
    `id` defaults to a generated `call_…` (OpenAI) or `toolu_…` (Anthropic) id.
    """

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Behavior:
    """How the fake answers one model call (chat completion, message, embedding).

    Failure knobs, applied in this order: `delay_s` (before anything is written), `drop_connection`
    (close the socket, no response), `status` != 200 (error body in the provider's shape; a 429 always
    carries `retry-after`), then for streams `chunk_delay_s`, `error_after_chunks`,
    `truncate_after_chunks`. "Chunks" are SSE events counted from the first one sent (OpenAI's role
    chunk, Anthropic's `message_start`), including `ping`, usage and `[DONE]`/`message_stop`.
    """

    # -- failures
    status: int = 200
    error_type: str | None = None  # provider error `type` (default: by status)
    error_code: str | None = None  # OpenAI `code` (default: by status)
    error_message: str | None = None
    retry_after: float | None = None  # seconds; a 429 sends 1 when unset, other errors only when set
    headers: Mapping[str, str] = field(default_factory=dict)  # extra response headers
    delay_s: float = 0.0  # before the status line
    chunk_delay_s: float = 0.0  # between SSE events
    truncate_after_chunks: int | None = None  # send N SSE events then close the TCP connection
    truncate_clean: bool = False  # with truncate_after_chunks: end the HTTP body properly instead
    error_after_chunks: int | None = None  # send N SSE events, then an in-stream error event, then end
    drop_connection: bool = False  # close the socket without any response
    # -- content
    content: str | None = None  # default: "echo: " + first 40 chars of the last user message
    tool_call: ToolCall | tuple[ToolCall, ...] | None = None  # used only when the request declares tools
    finish_reason: str | None = None  # verbatim OpenAI finish_reason / Anthropic stop_reason
    model: str | None = None  # reported model (default: the requested one)
    n_chunks: int | None = None  # content deltas in a stream (default: min(8, len(content)))
    # -- usage
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    def __post_init__(self) -> None:
        if (
            self.prompt_tokens is not None
            and self.prompt_tokens < self.cached_tokens + self.cache_write_tokens
        ):
            msg = "prompt_tokens is the total prompt: it must be >= cached_tokens + cache_write_tokens"
            raise ValueError(msg)
        for name in ("truncate_after_chunks", "error_after_chunks", "n_chunks"):
            value = getattr(self, name)
            if value is not None and value < 0:
                msg = f"{name} must be >= 0"
                raise ValueError(msg)
        if self.n_chunks == 0:
            raise ValueError("n_chunks must be >= 1")

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        if self.tool_call is None:
            return ()
        if isinstance(self.tool_call, ToolCall):
            return (self.tool_call,)
        return tuple(self.tool_call)

    def resolve_prompt_tokens(self, prompt_text: str) -> int:
        if self.prompt_tokens is not None:
            return self.prompt_tokens
        return max(estimate_tokens(prompt_text), self.cached_tokens + self.cache_write_tokens)


def split_evenly(text: str, n: int) -> list[str]:
    """Split `text` into `n` contiguous non-empty pieces (fewer when the text is shorter)."""
    n = max(1, min(n, len(text)))
    if not text:
        return [""]
    size, extra = divmod(len(text), n)
    pieces, pos = [], 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        pieces.append(text[pos : pos + step])
        pos += step
    return pieces


def default_reply(last_user_text: str) -> str:
    return "echo: " + last_user_text[:40]
