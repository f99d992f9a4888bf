"""FakeOpenAI: OpenAI's (and Azure OpenAI's, and OpenAI-compatible servers') wire format."""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import re
import struct
import time
from collections.abc import Coroutine, Sequence
from typing import Any

import msgspec

from tests.fakes._http import Connection, HttpRequest, build_response
from tests.fakes._server import FakeServer, play, retry_after_value
from tests.fakes.behavior import Behavior, ToolCall, default_reply, estimate_tokens, split_evenly

__all__ = ["FakeOpenAI", "openai_prompt_text"]

_JSON = ("content-type", "application/json")
_SSE = [("content-type", "text/event-stream; charset=utf-8"), ("cache-control", "no-cache")]
_AZURE = re.compile(r"^/openai/deployments/([^/]+)/(chat/completions|embeddings)$")
_encode = msgspec.json.encode
_AZURE_DENIED = (
    "Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
    "key for an active subscription and use a correct regional API endpoint for your resource."
)
_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using "
    "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)

# status -> (type, code, message)
_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request (scripted by the fake)."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported.",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model does not exist or you do not have access to it.",
    ),
    408: ("timeout", None, "Request timed out."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again in 1s."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
    504: ("server_error", None, "Gateway timeout."),
}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def openai_prompt_text(body: dict[str, Any]) -> str:
    """The text the fake counts prompt tokens over: every message's text content, concatenated."""
    return "".join(_text_of(m.get("content")) for m in body.get("messages", []) if isinstance(m, dict))


def _last_user_text(messages: Sequence[Any]) -> str:
    for m in reversed(messages):
        if isinstance(m, dict) and m.get("role") == "user":
            return _text_of(m.get("content"))
    return ""


def _arguments_json(call: ToolCall) -> str:
    if isinstance(call.arguments, str):
        return call.arguments
    return _encode(dict(call.arguments)).decode()


def _error_body(err_type: str, code: str | None, message: str, param: str | None = None) -> bytes:
    return _encode({"error": {"message": message, "type": err_type, "param": param, "code": code}})


def fake_embedding(seed: str, dims: int) -> list[float]:
    """A deterministic unit vector for `seed`."""
    raw = hashlib.shake_256(seed.encode()).digest(4 * dims)
    values = [(v / 0xFFFFFFFF) * 2.0 - 1.0 for v in struct.unpack(f"<{dims}I", raw)]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class FakeOpenAI(FakeServer):
    """Fake OpenAI API.

    `base_url` is `http://127.0.0.1:PORT/v1` (what `openai.OpenAI(base_url=...)` takes); `url` is the
    root, which is also the Azure endpoint (`/openai/deployments/{deployment}/...?api-version=...`).
    With `api_key` set, requests must carry `Authorization: Bearer <key>` (Azure: `api-key: <key>`).
    """

    kind: str = "openai"
    _url_suffix: str = "/v1"

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        default: Behavior | None = None,
        max_recorded: int | None = None,
        models: Sequence[str] = ("gpt-4o-mini", "gpt-4o", "text-embedding-3-small"),
        embedding_dims: int = 16,
    ) -> None:
        super().__init__(host=host, port=port, api_key=api_key, default=default, max_recorded=max_recorded)
        self.models = tuple(models)
        self.embedding_dims = embedding_dims

    @property
    def azure_endpoint(self) -> str:
        return self.url

    # ------------------------------------------------------------------ routing
    def _handle(self, request: HttpRequest, conn: Connection) -> bytes | Coroutine[Any, Any, None]:
        path, method = request.path, request.method
        azure = _AZURE.match(path)
        if azure is not None:
            endpoint, deployment = azure.group(2), azure.group(1)
        elif path in ("/v1/chat/completions", "/chat/completions"):
            endpoint, deployment = "chat/completions", None
        elif path in ("/v1/embeddings", "/embeddings"):
            endpoint, deployment = "embeddings", None
        elif path in ("/v1/models", "/models") or path.startswith(("/v1/models/", "/models/")):
            endpoint, deployment = "models", None
        else:
            self._record(request, consume=False)
            return self._plain(
                request, 404, _error_body("invalid_request_error", None, f"Invalid URL ({method} {path})")
            )

        denied = self._check_auth(request, azure=azure is not None)
        if denied is not None:
            self._record(request, consume=False)
            return denied
        if azure is not None and "api-version" not in request.query:
            self._record(request, consume=False)
            return self._plain(
                request, 404, _encode({"error": {"code": "404", "message": "Resource not found"}})
            )

        expected = "GET" if endpoint == "models" else "POST"
        if method != expected:
            self._record(request, consume=False)
            return self._plain(
                request,
                405,
                _error_body("invalid_request_error", None, f"Invalid method for URL ({method} {path})"),
            )

        if endpoint == "models":
            self._record(request, consume=False)
            return self._models(request)

        try:
            body = msgspec.json.decode(request.body)
        except msgspec.DecodeError:
            body = None
        if not isinstance(body, dict):
            self._record(request, consume=False)
            return self._plain(
                request,
                400,
                _error_body(
                    "invalid_request_error", None, "We could not parse the JSON body of your request."
                ),
            )
        problem = self._validate(endpoint, body, azure=azure is not None)
        if problem is not None:
            self._record(request, consume=False)
            return self._plain(request, 400, problem)

        recorded = self._record(request, consume=True)
        behavior = recorded.behavior
        assert behavior is not None
        model = behavior.model or body.get("model") or deployment or "gpt-4o-mini"
        request_id = f"req_{self._next_id():024x}"
        build = self._embeddings if endpoint == "embeddings" else self._chat
        return play(
            conn,
            behavior,
            error=functools.partial(self._scripted_error, behavior, model, request_id),
            success=functools.partial(build, body, behavior, model, request_id),
            stream_error_event=functools.partial(self._stream_error, behavior, model),
        )

    def _plain(self, request: HttpRequest, status: int, body: bytes) -> bytes:
        return build_response(status, [_JSON], body, keep_alive=request.keep_alive)

    def _check_auth(self, request: HttpRequest, *, azure: bool) -> bytes | None:
        if self.api_key is None:
            return None
        bearer = request.headers.get("authorization", "")
        presented = bearer[7:] if bearer[:7].lower() == "bearer " else None
        if azure:
            presented = request.headers.get("api-key", presented)
            if presented != self.api_key:
                return self._plain(
                    request, 401, _encode({"error": {"code": "401", "message": _AZURE_DENIED}})
                )
            return None
        if presented is None or presented == "":
            return self._plain(request, 401, _error_body("invalid_request_error", None, _NO_KEY))
        if presented != self.api_key:
            shown = presented[:3] + "*" * 6 + presented[-4:] if len(presented) > 8 else "*" * len(presented)
            return self._plain(
                request,
                401,
                _error_body(
                    "invalid_request_error", "invalid_api_key", f"Incorrect API key provided: {shown}."
                ),
            )
        return None

    @staticmethod
    def _validate(endpoint: str, body: dict[str, Any], *, azure: bool) -> bytes | None:
        if not azure and not isinstance(body.get("model"), str):
            return _error_body("invalid_request_error", None, "you must provide a model parameter")
        if endpoint == "embeddings":
            value = body.get("input")
            if value is None or value == "" or value == []:
                return _error_body(
                    "invalid_request_error",
                    "missing_required_parameter",
                    "Missing required parameter: 'input'.",
                    "input",
                )
            return None
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return _error_body(
                "invalid_request_error",
                "missing_required_parameter",
                "Missing required parameter: 'messages'.",
                "messages",
            )
        if body.get("stream_options") is not None and not body.get("stream"):
            return _error_body(
                "invalid_request_error",
                "invalid_value",
                "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                "stream_options",
            )
        return None

    # ------------------------------------------------------------------ errors
    def _error_json(self, behavior: Behavior, model: str, *, in_stream: bool = False) -> bytes:
        status = 500 if in_stream and behavior.status == 200 else behavior.status
        default_type, default_code, message = _ERRORS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None, f"Error {status}.")
        )
        if status == 404:
            message = f"The model `{model}` does not exist or you do not have access to it."
        return _error_body(
            behavior.error_type or default_type,
            behavior.error_code or default_code,
            behavior.error_message or message,
        )

    def _stream_error(self, behavior: Behavior, model: str) -> bytes:
        return b"data: " + self._error_json(behavior, model, in_stream=True) + b"\n\n"

    def _scripted_error(
        self, behavior: Behavior, model: str, request_id: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        headers = [_JSON, ("x-request-id", request_id)]
        retry = retry_after_value(behavior)
        if retry is not None:
            headers.append(("retry-after", retry))
        headers.extend(behavior.headers.items())
        return behavior.status, headers, self._error_json(behavior, model)

    # ------------------------------------------------------------------ chat completions
    def _chat(
        self, body: dict[str, Any], behavior: Behavior, model: str, request_id: str
    ) -> tuple[list[tuple[str, str]], bytes | list[bytes]]:
        n = self._next_id()
        completion_id = f"chatcmpl-fake{n:020d}"
        created = int(time.time())
        has_tools = bool(body.get("tools") or body.get("functions"))
        calls = [
            (c.id or f"call_fake{n:08d}{i:04d}", c.name, _arguments_json(c))
            for i, c in enumerate(behavior.tool_calls if has_tools else ())
        ]
        content = behavior.content
        if content is None and not calls:
            content = default_reply(_last_user_text(body["messages"]))
            rf = body.get("response_format")
            if isinstance(rf, dict) and rf.get("type") in ("json_object", "json_schema"):
                content = _encode({"reply": content}).decode()
        generated = (content or "") + "".join(name + args for _, name, args in calls)
        completion_tokens = behavior.completion_tokens
        finish = "tool_calls" if calls else "stop"
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
        if completion_tokens is None:
            completion_tokens = estimate_tokens(generated)
            if isinstance(max_tokens, int) and 0 < max_tokens < completion_tokens and content and not calls:
                content = content[: max_tokens * 4]
                completion_tokens = max_tokens
                finish = "length"
        finish = behavior.finish_reason or finish
        prompt_tokens = behavior.resolve_prompt_tokens(openai_prompt_text(body))
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": behavior.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        headers = [("x-request-id", request_id), *behavior.headers.items()]
        if not body.get("stream"):
            message: dict[str, Any] = {
                "role": "assistant",
                "content": content,
                "refusal": None,
                "annotations": [],
            }
            if calls:
                message["tool_calls"] = [
                    {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                    for cid, name, args in calls
                ]
            payload = {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": "fp_fake",
            }
            return [_JSON, *headers], _encode(payload)

        stream_options = body.get("stream_options") or {}
        include_usage = bool(stream_options.get("include_usage"))
        base = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "service_tier": "default",
            "system_fingerprint": "fp_fake",
        }

        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
            data: dict[str, Any] = {
                **base,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                data["usage"] = None
            return b"data: " + _encode(data) + b"\n\n"

        events: list[bytes] = []
        n_chunks = behavior.n_chunks
        if content or not calls:
            events.append(chunk({"role": "assistant", "content": "", "refusal": None}))
            text = content or ""
            if text:
                events.extend(
                    chunk({"content": piece}) for piece in split_evenly(text, n_chunks or min(8, len(text)))
                )
        for index, (cid, name, args) in enumerate(calls):
            start: dict[str, Any] = {
                "tool_calls": [
                    {
                        "index": index,
                        "id": cid,
                        "type": "function",
                        "function": {"name": name, "arguments": ""},
                    }
                ],
            }
            if not events:
                start = {"role": "assistant", "content": None, **start, "refusal": None}
            events.append(chunk(start))
            if args:
                events.extend(
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
                    for piece in split_evenly(args, n_chunks or min(8, len(args)))
                )
        events.append(chunk({}, finish))
        if include_usage:
            events.append(b"data: " + _encode({**base, "choices": [], "usage": usage}) + b"\n\n")
        events.append(b"data: [DONE]\n\n")
        return [*_SSE, *headers], events

    # ------------------------------------------------------------------ embeddings
    def _embeddings(
        self, body: dict[str, Any], behavior: Behavior, model: str, request_id: str
    ) -> tuple[list[tuple[str, str]], bytes]:
        raw = body["input"]
        items: list[Any] = [raw] if isinstance(raw, str) or (raw and isinstance(raw[0], int)) else list(raw)
        dims = body.get("dimensions") or self.embedding_dims
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        tokens = 0
        for index, item in enumerate(items):
            if isinstance(item, str):
                seed, tokens = item, tokens + estimate_tokens(item)
            else:
                seed, tokens = ",".join(map(str, item)), tokens + len(item)
            vector = fake_embedding(seed, dims)
            embedding: Any = (
                base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode() if as_base64 else vector
            )
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        prompt_tokens = behavior.prompt_tokens if behavior.prompt_tokens is not None else tokens
        payload = {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
        }
        return [_JSON, ("x-request-id", request_id), *behavior.headers.items()], _encode(payload)

    # ------------------------------------------------------------------ models
    def _models(self, request: HttpRequest) -> bytes:
        def entry(model_id: str) -> dict[str, Any]:
            return {"id": model_id, "object": "model", "created": 1_700_000_000, "owned_by": "system"}

        path = request.path.removeprefix("/v1")
        if path.startswith("/models/"):
            model_id = path[len("/models/") :]
            if model_id not in self.models:
                return self._plain(
                    request,
                    404,
                    _error_body(
                        "invalid_request_error",
                        "model_not_found",
                        f"The model '{model_id}' does not exist",
                        "model",
                    ),
                )
            return self._plain(request, 200, _encode(entry(model_id)))
        return self._plain(request, 200, _encode({"object": "list", "data": [entry(m) for m in self.models]}))
