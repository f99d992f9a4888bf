"""FakeAnthropic: the Anthropic Messages API wire format."""

from __future__ import annotations

import functools
from collections.abc import Coroutine, Sequence
from typing import Any

import msgspec

from tests.fakes._http import Connection, HttpRequest, build_response
from tests.fakes._server import FakeServer, play, retry_after_value
from tests.fakes.behavior import Behavior, ToolCall, default_reply, estimate_tokens, split_evenly

__all__ = ["FakeAnthropic", "anthropic_prompt_text"]

_JSON = ("content-type", "application/json")
_SSE = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")]
_encode = msgspec.json.encode

# status -> (type, message)
_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request (scripted by the fake)."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: ("permission_error", "Your API key does not have permission to use the specified resource."),
    404: ("not_found_error", "Not found."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of request tokens has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out."),
    529: ("overloaded_error", "Overloaded"),
}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            parts.append(block["text"])
        elif block.get("type") == "tool_result":
            parts.append(_text_of(block.get("content")))
    return "".join(parts)


def anthropic_prompt_text(body: dict[str, Any]) -> str:
    """The text the fake counts prompt tokens over: system, then every message's text, concatenated."""
    messages = body.get("messages", [])
    return _text_of(body.get("system")) + "".join(
        _text_of(m.get("content")) for m in messages if isinstance(m, dict)
    )


def _last_user_text(messages: Sequence[Any]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return _text_of(m.get("content"))
    return ""


def _tool_input(call: ToolCall) -> tuple[dict[str, Any], str]:
    if isinstance(call.arguments, str):
        decoded = msgspec.json.decode(call.arguments) if call.arguments else {}
        if not isinstance(decoded, dict):
            raise ValueError("Anthropic tool input must be a JSON object")
        return decoded, call.arguments
    as_dict = dict(call.arguments)
    return as_dict, _encode(as_dict).decode()


def _error_body(err_type: str, message: str, request_id: str | None = None) -> bytes:
    body: dict[str, Any] = {"type": "error", "error": {"type": err_type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return _encode(body)


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + _encode(data) + b"\n\n"


class FakeAnthropic(FakeServer):
    """Fake Anthropic Messages API.

    `base_url` is `http://127.0.0.1:PORT` (no `/v1`: what `anthropic.Anthropic(base_url=...)` takes).
    Every request must carry `x-api-key` (or `Authorization: Bearer`; equal to `api_key` when set) and
    `anthropic-version`, as the real API demands.
    """

    kind: str = "anthropic"
    _url_suffix: str = ""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        default: Behavior | None = None,
        max_recorded: int | None = None,
        models: Sequence[str] = ("claude-sonnet-4-5", "claude-haiku-4-5"),
    ) -> None:
        super().__init__(host=host, port=port, api_key=api_key, default=default, max_recorded=max_recorded)
        self.models = tuple(models)

    # ------------------------------------------------------------------ routing
    def _handle(self, request: HttpRequest, conn: Connection) -> bytes | Coroutine[Any, Any, None]:
        path, method = request.path, request.method
        routes = {"/v1/messages": "POST", "/v1/messages/count_tokens": "POST", "/v1/models": "GET"}
        if path not in routes:
            self._record(request, consume=False)
            return self._plain(request, 404, _error_body("not_found_error", f"Not found: {method} {path}"))
        denied = self._check_headers(request)
        if denied is not None:
            self._record(request, consume=False)
            return denied
        if method != routes[path]:
            self._record(request, consume=False)
            return self._plain(
                request, 405, _error_body("invalid_request_error", f"Method {method} not allowed")
            )
        if path == "/v1/models":
            self._record(request, consume=False)
            data = [
                {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
                for m in self.models
            ]
            return self._plain(
                request,
                200,
                _encode(
                    {
                        "data": data,
                        "has_more": False,
                        "first_id": data[0]["id"] if data else None,
                        "last_id": data[-1]["id"] if data else None,
                    }
                ),
            )

        try:
            body = msgspec.json.decode(request.body)
        except msgspec.DecodeError:
            body = None
        if not isinstance(body, dict):
            self._record(request, consume=False)
            return self._plain(request, 400, _error_body("invalid_request_error", "Invalid JSON body"))
        problem = self._validate(body, count_tokens=path.endswith("count_tokens"))
        if problem is not None:
            self._record(request, consume=False)
            return self._plain(request, 400, _error_body("invalid_request_error", problem))
        if path.endswith("count_tokens"):
            self._record(request, consume=False)
            tokens = estimate_tokens(anthropic_prompt_text(body))
            return self._plain(request, 200, _encode({"input_tokens": tokens}))

        recorded = self._record(request, consume=True)
        behavior = recorded.behavior
        assert behavior is not None
        model = behavior.model or body["model"]
        request_id = f"req_fake{self._next_id():020d}"
        return play(
            conn,
            behavior,
            error=functools.partial(self._scripted_error, behavior, request_id),
            success=functools.partial(self._message, body, behavior, model, request_id),
            stream_error_event=functools.partial(self._stream_error, behavior),
        )

    def _plain(self, request: HttpRequest, status: int, body: bytes) -> bytes:
        return build_response(status, [_JSON], body, keep_alive=request.keep_alive)

    def _check_headers(self, request: HttpRequest) -> bytes | None:
        # `x-api-key` is the documented header; anthropic-python 2.x sends `Authorization: Bearer`.
        key = request.headers.get("x-api-key")
        if not key:
            bearer = request.headers.get("authorization", "")
            key = bearer[7:] if bearer[:7].lower() == "bearer " else None
        if not key:
            return self._plain(
                request, 401, _error_body("authentication_error", "x-api-key header is required")
            )
        if self.api_key is not None and key != self.api_key:
            return self._plain(request, 401, _error_body("authentication_error", "invalid x-api-key"))
        if not request.headers.get("anthropic-version"):
            return self._plain(
                request, 400, _error_body("invalid_request_error", "anthropic-version: header is required")
            )
        return None

    @staticmethod
    def _validate(body: dict[str, Any], *, count_tokens: bool) -> str | None:
        if not isinstance(body.get("model"), str):
            return "model: Field required"
        if not count_tokens and not isinstance(body.get("max_tokens"), int):
            return "max_tokens: Field required"
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return "messages: Field required"
        for i, m in enumerate(messages):
            role = m.get("role") if isinstance(m, dict) else None
            if role not in ("user", "assistant"):
                return f"messages.{i}.role: Input should be 'user' or 'assistant'" + (
                    ' (use the top-level "system" parameter for system prompts)' if role == "system" else ""
                )
        return None

    # ------------------------------------------------------------------ errors
    def _scripted_error(
        self, behavior: Behavior, request_id: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        status = behavior.status
        default_type, message = _ERRORS.get(
            status, ("api_error" if status >= 500 else "invalid_request_error", f"Error {status}")
        )
        headers = [_JSON, ("request-id", request_id)]
        retry = retry_after_value(behavior)
        if retry is not None:
            headers.append(("retry-after", retry))
        headers.extend(behavior.headers.items())
        body = _error_body(behavior.error_type or default_type, behavior.error_message or message, request_id)
        return status, headers, body

    @staticmethod
    def _stream_error(behavior: Behavior) -> bytes:
        status = 529 if behavior.status == 200 else behavior.status
        default_type, message = _ERRORS.get(status, ("api_error", "Internal server error"))
        return _sse(
            "error",
            {
                "type": "error",
                "error": {
                    "type": behavior.error_type or default_type,
                    "message": behavior.error_message or message,
                },
            },
        )

    # ------------------------------------------------------------------ messages
    def _message(
        self, body: dict[str, Any], behavior: Behavior, model: str, request_id: str
    ) -> tuple[list[tuple[str, str]], bytes | list[bytes]]:
        n = self._next_id()
        message_id = f"msg_fake{n:020d}"
        has_tools = bool(body.get("tools"))
        calls = [
            (c.id or f"toolu_fake{n:08d}{i:04d}", c.name, *_tool_input(c))
            for i, c in enumerate(behavior.tool_calls if has_tools else ())
        ]
        text = behavior.content
        if text is None and not calls:
            text = default_reply(_last_user_text(body["messages"]))
        generated = (text or "") + "".join(name + args for _, name, _, args in calls)
        output_tokens = behavior.completion_tokens
        stop_reason = "tool_use" if calls else "end_turn"
        if output_tokens is None:
            output_tokens = estimate_tokens(generated)
            max_tokens = body["max_tokens"]
            if 0 < max_tokens < output_tokens and text and not calls:
                text = text[: max_tokens * 4]
                output_tokens = max_tokens
                stop_reason = "max_tokens"
        stop_reason = behavior.finish_reason or stop_reason
        stop_sequence = None
        if stop_reason == "stop_sequence":
            sequences = body.get("stop_sequences") or ["\n\nHuman:"]
            stop_sequence = sequences[0]
        total_prompt = behavior.resolve_prompt_tokens(anthropic_prompt_text(body))
        usage = {
            "input_tokens": total_prompt - behavior.cached_tokens - behavior.cache_write_tokens,
            "cache_creation_input_tokens": behavior.cache_write_tokens,
            "cache_read_input_tokens": behavior.cached_tokens,
            "output_tokens": output_tokens,
        }
        headers = [("request-id", request_id), *behavior.headers.items()]
        blocks: list[dict[str, Any]] = []
        if text:
            blocks.append({"type": "text", "text": text})
        blocks.extend(
            {"type": "tool_use", "id": cid, "name": name, "input": inp} for cid, name, inp, _ in calls
        )

        if not body.get("stream"):
            payload = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": blocks,
                "stop_reason": stop_reason,
                "stop_sequence": stop_sequence,
                "usage": usage,
            }
            return [_JSON, *headers], _encode(payload)

        events = [
            _sse(
                "message_start",
                {
                    "type": "message_start",
                    "message": {
                        "id": message_id,
                        "type": "message",
                        "role": "assistant",
                        "model": model,
                        "content": [],
                        "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {**usage, "output_tokens": 1},
                    },
                },
            )
        ]
        n_chunks = behavior.n_chunks
        index = 0
        if text:
            events.append(
                _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "text", "text": ""},
                    },
                )
            )
            events.append(_sse("ping", {"type": "ping"}))
            events.extend(
                _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "text_delta", "text": piece},
                    },
                )
                for piece in split_evenly(text, n_chunks or min(8, len(text)))
            )
            events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
            index += 1
        for cid, name, _, args in calls:
            events.append(
                _sse(
                    "content_block_start",
                    {
                        "type": "content_block_start",
                        "index": index,
                        "content_block": {"type": "tool_use", "id": cid, "name": name, "input": {}},
                    },
                )
            )
            if index == 0:
                events.append(_sse("ping", {"type": "ping"}))
            events.extend(
                _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": index,
                        "delta": {"type": "input_json_delta", "partial_json": piece},
                    },
                )
                for piece in (split_evenly(args, n_chunks or min(8, len(args))) if args else [])
            )
            events.append(_sse("content_block_stop", {"type": "content_block_stop", "index": index}))
            index += 1
        events.append(
            _sse(
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": stop_sequence},
                    "usage": {"output_tokens": output_tokens},
                },
            )
        )
        events.append(_sse("message_stop", {"type": "message_stop"}))
        return [*_SSE, *headers], events
