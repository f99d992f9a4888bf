"""The data-plane pipeline, one call at a time:

auth (cached key) → model access → catalog (cached) → limits (one Redis round trip: RPM, TPM and
budget reserved with estimates) → response cache (non-streamed, when the model's deployments cache and
the caller did not opt out) → pick a deployment (strategy, skipping cooling ones and those over their
own RPM/TPM) → call it, retrying retryable failures with jittered backoff up to the deployment's
``max_retries`` → fall back to the model's fallback models → price the call → answer with the
``x-tollgate-*`` headers → settle the limits with the actual usage and hand a record to the spend log
(both after the answer has been sent: see :meth:`Reply.finalize`).

Retries and charges (documented behaviour):

* retryable: upstream 408/409/429/5xx, timeouts, connection errors (refused, reset, dropped before or
  while reading the body), malformed answers, an in-stream error event before the first chunk;
* not retried: upstream 400/413/422 (the caller's request is wrong → 400), a request a provider cannot
  serve (→ 400); upstream 401/403/404 (a broken deployment) move on to the next deployment;
* a stream is committed once its first chunk has arrived; before that every failure is retried like a
  non-streamed call. A committed stream that fails ends with an OpenAI-style ``error`` event and is
  charged nothing (the caller never got a complete answer);
* only the attempt that succeeded is priced and charged; failed attempts cost the caller nothing.
"""

from __future__ import annotations

import asyncio
import datetime
import math
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from uuid import UUID

import msgspec
import structlog

from tollgate_common.errors import TollgateError
from tollgate_router.cache.service import ResponseCache
from tollgate_router.catalog.service import Catalog, Deployment
from tollgate_router.chat import promptlog
from tollgate_router.chat.metrics import DataPlaneMetrics
from tollgate_router.chat.pricing import cost_micro_usd, estimate_cost_micro_usd
from tollgate_router.chat.routing import STRATEGIES, Cooldowns, DeploymentStats, pick
from tollgate_router.chat.schemas import (
    DEFAULT_COMPLETION_ESTIMATE,
    ChatRequest,
    parse_chat,
    parse_embeddings,
)
from tollgate_router.chat.settling import SettleBatcher
from tollgate_router.errors import (
    BudgetExceeded,
    InvalidKey,
    InvalidRequest,
    KeyRateLimited,
    ModelNotFound,
    NoDeploymentAvailable,
    UpstreamError,
    UpstreamTimeout,
)
from tollgate_router.keys.service import AuthedKey, KeyAuth
from tollgate_router.limits.service import Limiter, Reservation
from tollgate_router.providers.base import ZERO_USAGE, Provider, StreamChunk, Usage
from tollgate_router.providers.errors import (
    ProviderError,
    UnsupportedRequest,
    UpstreamBadResponse,
    UpstreamStatus,
    UpstreamTimedOut,
    is_retryable,
)
from tollgate_router.providers.registry import ProviderRegistry, UnknownProvider
from tollgate_router.settings import RoutingSettings
from tollgate_router.spend.service import SpendLog, SpendRecord

__all__ = ["ChatService", "Reply", "StreamReply"]

_log = structlog.get_logger("tollgate.router.chat")
# A logger of its own, so operators can route or silence ``tollgate.prompts`` (opt-in prompt text).
_prompt_log = structlog.get_logger("tollgate.prompts")

T = TypeVar("T")
Headers = list[tuple[bytes, bytes]]

_CALLER_ERRORS = frozenset({400, 413, 422})
_BROKEN_DEPLOYMENT = frozenset({401, 403, 404})
_encode = msgspec.json.encode


@dataclass(slots=True)
class Reply:
    """A complete answer; ``finalize`` settles limits and logs spend (call it after sending)."""

    status: int
    body: bytes
    headers: Headers
    finalize: Callable[[], None]


@dataclass(slots=True)
class StreamReply:
    headers: Headers
    events: AsyncGenerator[bytes, None]  # SSE frames; closing it settles and logs (use contextlib.aclosing)


@dataclass(slots=True)
class _Routed(Generic[T]):
    result: T
    deployment: Deployment
    model: str  # the model that answered (the requested one or a fallback)
    attempts: int
    upstream_s: float


@dataclass(slots=True)
class _Trail:
    """What a request's failed attempts left behind, across the model and its fallbacks."""

    last_error: ProviderError | None = None
    cooling: list[Deployment] = field(default_factory=list)


@dataclass(slots=True)
class _Call:
    """Per-request bookkeeping shared by every path."""

    request_id: str
    endpoint: str
    key: AuthedKey
    model: str
    started: float
    reservation: Reservation | None = None
    deployment: Deployment | None = None
    usage: Usage = ZERO_USAGE
    cost: int = 0
    status: str = "error"
    error_kind: str | None = None
    cache_hit: bool = False
    http_status: int = 500
    attempts: int = 0
    finished: bool = False
    # Only for keys with log_prompts: the request's messages and the answer's text (promptlog).
    messages: Any = None
    answer: list[str] | None = None
    # The model as a metrics label: a name from the catalog, or "unknown" (callers choose ``model``).
    label: str = "unknown"


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise InvalidKey("You didn't provide an API key. Use 'Authorization: Bearer <key>'.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidKey("Use 'Authorization: Bearer <key>'.")
    return token.strip()


class ChatService:
    """app.state.chat: the /v1 pipeline. One per process; holds no per-request state."""

    def __init__(
        self,
        *,
        key_auth: KeyAuth,
        catalog: Catalog,
        limiter: Limiter,
        cache: ResponseCache,
        spend_log: SpendLog,
        providers: ProviderRegistry,
        cooldowns: Cooldowns,
        metrics: DataPlaneMetrics,
        routing: RoutingSettings,
        stats: DeploymentStats | None = None,
        max_body_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.settler = SettleBatcher(limiter)
        self.key_auth = key_auth
        self.catalog = catalog
        self.limiter = limiter
        self.cache = cache
        self.spend_log = spend_log
        self.providers = providers
        self.cooldowns = cooldowns
        self.metrics = metrics
        self.routing = routing
        self.stats = stats or DeploymentStats()

    # ================================================================== background accounting
    async def settle_pending(self) -> None:
        """Settle every queued reservation now (tests, shutdown); finished calls only queue them."""
        await self.settler.flush()

    async def close(self) -> None:
        await self.settler.close()

    # ================================================================== entry points
    async def models(self, authorization: str | None) -> bytes:
        key = await self.key_auth.authenticate(_bearer(authorization))
        names = [m for m in await self.catalog.model_names() if self.key_auth.allows(key, m)]
        return _encode(
            {
                "object": "list",
                "data": [{"id": m, "object": "model", "created": 0, "owned_by": "tollgate"} for m in names],
            }
        )

    async def chat(
        self, *, request_id: str, authorization: str | None, raw: bytes, no_store: bool = False
    ) -> Reply | StreamReply:
        key = await self.key_auth.authenticate(_bearer(authorization))
        request = parse_chat(raw, no_store_header=no_store)
        call = _Call(request_id, "chat", key, request.model, time.perf_counter())
        if key.log_prompts:
            call.messages, call.answer = request.body.get("messages"), []
        self.metrics.in_flight.inc()
        try:
            self.key_auth.check_model(key, request.model)
            deployments = await self.catalog.deployments(request.model)
            call.label = request.model
            estimate = request.prompt_tokens_estimate + (request.max_completion_tokens or 0)
            call.reservation = await self._admit(key, request, deployments)
            if request.stream:
                self.metrics.cache.labels("bypass").inc()
                return await self._chat_stream(call, request, estimate)
            return await self._chat_json(call, request, deployments, estimate)
        except TollgateError as exc:
            call.http_status = exc.status
            call.error_kind = call.error_kind or exc.slug
            self._finish(call)
            raise
        except BaseException:
            self._finish(call)
            raise

    async def embeddings(self, *, request_id: str, authorization: str | None, raw: bytes) -> Reply:
        key = await self.key_auth.authenticate(_bearer(authorization))
        request = parse_embeddings(raw)
        call = _Call(request_id, "embeddings", key, request.model, time.perf_counter())
        self.metrics.in_flight.inc()
        try:
            self.key_auth.check_model(key, request.model)
            deployments = await self.catalog.deployments(request.model)
            call.label = request.model
            prices = max((d.prices for d in deployments), key=lambda p: p.input)
            call.reservation = await self._admit_raw(
                key,
                tokens=request.prompt_tokens_estimate,
                cost=estimate_cost_micro_usd(request.prompt_tokens_estimate, 0, prices),
            )
            routed = await self._route(
                call,
                request.prompt_tokens_estimate,
                lambda provider, deployment: provider.embeddings(deployment, request.body),
            )
            return self._answer(call, routed, routed.result.body, routed.result.usage, cache="bypass")
        except TollgateError as exc:
            call.http_status = exc.status
            call.error_kind = call.error_kind or exc.slug
            self._finish(call)
            raise
        except BaseException:
            self._finish(call)
            raise

    # ================================================================== non-streamed chat
    async def _chat_json(
        self, call: _Call, request: ChatRequest, deployments: Sequence[Deployment], estimate: int
    ) -> Reply:
        cacheable = not request.no_store and any(d.cache_ttl_s for d in deployments)
        owner = call.key.owner_ref
        if cacheable:
            hit = await self.cache.get(owner_ref=owner, model=request.model, request=request.body)
            if hit is not None:
                self.metrics.cache.labels("hit").inc()
                call.cache_hit = True
                call.status, call.http_status = "success", 200
                if call.answer is not None:
                    call.answer.append(promptlog.answer_text(hit))
                headers = self._headers(call, model=request.model, deployment="", attempts=0, cache="hit")
                return Reply(200, hit, headers, lambda: self._finish(call))
            self.metrics.cache.labels("miss").inc()
        else:
            self.metrics.cache.labels("bypass").inc()
        routed = await self._route(
            call, estimate, lambda provider, deployment: provider.chat(deployment, request.body)
        )
        ttl = routed.deployment.cache_ttl_s
        if cacheable and ttl:
            await self.cache.put(
                owner_ref=owner, model=request.model, request=request.body, body=routed.result.body, ttl_s=ttl
            )
        return self._answer(
            call, routed, routed.result.body, routed.result.usage, cache="miss" if cacheable else "bypass"
        )

    def _answer(self, call: _Call, routed: _Routed[Any], body: bytes, usage: Usage, *, cache: str) -> Reply:
        call.deployment = routed.deployment
        call.usage = usage
        call.cost = cost_micro_usd(usage, routed.deployment.prices)
        call.status, call.http_status = "success", 200
        if call.answer is not None:
            call.answer.append(promptlog.answer_text(body))
        elapsed = time.perf_counter() - call.started
        self.metrics.overhead.labels(call.endpoint).observe(max(0.0, elapsed - routed.upstream_s))
        headers = self._headers(
            call,
            model=routed.model,
            deployment=routed.deployment.id_text,
            attempts=routed.attempts,
            cache=cache,
        )
        return Reply(200, body, headers, lambda: self._finish(call))

    # ================================================================== streamed chat
    async def _chat_stream(self, call: _Call, request: ChatRequest, estimate: int) -> StreamReply:
        async def open_stream(
            provider: Provider, deployment: Deployment
        ) -> tuple[AsyncGenerator[StreamChunk, None], StreamChunk]:
            chunks = provider.chat_stream(deployment, request.body)
            try:
                first = await anext(chunks)
            except StopAsyncIteration:
                raise UpstreamBadResponse("upstream stream was empty") from None
            except BaseException:
                await chunks.aclose()
                raise
            return chunks, first

        routed = await self._route(call, estimate, open_stream)
        call.deployment = routed.deployment
        headers = self._headers(
            call,
            model=routed.model,
            deployment=routed.deployment.id_text,
            attempts=routed.attempts,
            cache="bypass",
            cost=None,
        )
        headers.append((b"content-type", b"text/event-stream; charset=utf-8"))
        headers.append((b"cache-control", b"no-cache"))
        events = self._relay(call, request, routed)
        await anext(events)  # start it: from here on, closing it always settles and logs
        return StreamReply(headers, events)

    async def _relay(
        self,
        call: _Call,
        request: ChatRequest,
        routed: _Routed[tuple[AsyncGenerator[StreamChunk, None], StreamChunk]],
    ) -> AsyncGenerator[bytes, None]:
        chunks, first = routed.result
        usage: Usage | None = first.usage
        usage_chunk: bytes | None = first.data if first.usage_only else None
        call.http_status = 200
        try:
            yield b""
            answer = call.answer
            if not first.usage_only:
                if answer is not None:
                    answer.append(promptlog.delta_text(first.data))
                yield b"data: " + first.data + b"\n\n"
            async for chunk in chunks:
                if chunk.usage is not None:
                    usage = chunk.usage
                if chunk.usage_only:
                    usage_chunk = chunk.data
                    continue
                if answer is not None:
                    answer.append(promptlog.delta_text(chunk.data))
                yield b"data: " + chunk.data + b"\n\n"
            call.usage = usage or ZERO_USAGE
            call.cost = cost_micro_usd(call.usage, routed.deployment.prices)
            call.status = "success"
            if usage is None:
                _log.warning("stream_without_usage", deployment_id=str(routed.deployment.id))
            if request.include_usage and usage_chunk is not None:
                yield b"data: " + _with_cost(usage_chunk, call.cost) + b"\n\n"
            yield b": x-tollgate-cost-micro-usd=" + str(call.cost).encode() + b"\n\n"
            yield b"data: [DONE]\n\n"
        except ProviderError as exc:
            call.usage, call.cost = ZERO_USAGE, 0
            call.status, call.error_kind, call.http_status = "error", "stream_" + exc.error_kind, 502
            _log.warning("stream_interrupted", deployment_id=str(routed.deployment.id), error=exc.error_kind)
            error = {
                "error": {
                    "message": "The upstream provider failed while streaming; the call is not charged.",
                    "type": "api_error",
                    "code": "upstream_stream_interrupted",
                    "param": None,
                }
            }
            yield b"data: " + _encode(error) + b"\n\n"
        finally:
            if call.status != "success" and call.error_kind is None:
                call.status, call.error_kind, call.http_status = "cancelled", "client_disconnected", 499
                call.usage, call.cost = ZERO_USAGE, 0
            await chunks.aclose()
            self._finish(call)

    # ================================================================== limits
    async def _admit(
        self, key: AuthedKey, request: ChatRequest, deployments: Sequence[Deployment]
    ) -> Reservation:
        prices = max(deployments, key=lambda d: d.prices.output + d.prices.input).prices
        completion = request.max_completion_tokens or DEFAULT_COMPLETION_ESTIMATE
        return await self._admit_raw(
            key,
            tokens=request.prompt_tokens_estimate + (request.max_completion_tokens or 0),
            cost=estimate_cost_micro_usd(request.prompt_tokens_estimate, completion, prices),
        )

    async def _admit_raw(self, key: AuthedKey, *, tokens: int, cost: int) -> Reservation:
        try:
            return await self.limiter.admit(key, estimated_tokens=tokens, estimated_cost_micro_usd=cost)
        except KeyRateLimited as exc:
            self.metrics.limit_rejections.labels(str(exc.extra.get("reason", "rate"))).inc()
            raise
        except BudgetExceeded:
            self.metrics.limit_rejections.labels("budget").inc()
            raise

    # ================================================================== routing, retries, fallbacks
    async def _route(
        self,
        call: _Call,
        estimated_tokens: int,
        attempt: Callable[[Provider, Deployment], Awaitable[T]],
    ) -> _Routed[T]:
        fallbacks = list(await self.catalog.fallbacks(call.model))[: self.routing.max_fallback_depth]
        trail = _Trail()
        for index, name in enumerate([call.model, *fallbacks]):
            try:
                deployments = await self.catalog.deployments(name)
            except ModelNotFound:
                if index == 0:
                    raise
                continue
            routed = await self._route_model(
                call,
                name=name,
                deployments=deployments,
                estimated_tokens=estimated_tokens,
                attempt=attempt,
                trail=trail,
            )
            if routed is not None:
                if index:
                    self.metrics.fallbacks.labels(call.model, name).inc()
                return routed
        raise self._exhausted(call, trail.last_error, trail.cooling)

    def _strategy(self, deployments: Sequence[Deployment]) -> str:
        strategy = str(deployments[0].settings.get("routing_strategy") or self.routing.strategy)
        return strategy if strategy in STRATEGIES else self.routing.strategy

    async def _route_model(
        self,
        call: _Call,
        *,
        name: str,
        deployments: Sequence[Deployment],
        estimated_tokens: int,
        attempt: Callable[[Provider, Deployment], Awaitable[T]],
        trail: _Trail,
    ) -> _Routed[T] | None:
        """Attempts on one model's deployments: the first, then up to ``max_retries`` more (of the
        deployment tried first), preferring deployments not yet tried; backoff only when repeating one."""
        strategy = self._strategy(deployments)
        tried: dict[UUID, int] = {}
        skipped: set[UUID] = set()
        retries_left = -1  # unknown until the first attempt
        while retries_left != 0:
            candidates = [d for d in deployments if d.id not in skipped and not self.cooldowns.cooling(d.id)]
            if not candidates:
                trail.cooling.extend(d for d in deployments if self.cooldowns.cooling(d.id))
                return None
            fresh = [d for d in candidates if d.id not in tried]
            deployment = pick(strategy, fresh or candidates, self.stats)
            if (deployment.rpm or deployment.tpm) and not await self.limiter.admit_deployment(
                deployment, estimated_tokens=estimated_tokens
            ):
                skipped.add(deployment.id)
                continue
            if retries_left < 0:
                retries_left = deployment.max_retries
            else:
                retries_left -= 1
                error = trail.last_error
                self.metrics.retries.labels(error.error_kind if error else "unknown").inc()
                if deployment.id in tried:
                    await asyncio.sleep(self._backoff(tried[deployment.id], error))
            tried[deployment.id] = tried.get(deployment.id, 0) + 1
            call.attempts += 1
            outcome = await self._attempt(deployment, attempt)
            if isinstance(outcome, ProviderError):
                trail.last_error = outcome
                if not is_retryable(outcome):
                    self._raise_caller_error(outcome)
                    skipped.add(deployment.id)
                continue
            result, upstream_s = outcome
            return _Routed(result, deployment, name, call.attempts, upstream_s)
        return None

    async def _attempt(
        self, deployment: Deployment, attempt: Callable[[Provider, Deployment], Awaitable[T]]
    ) -> tuple[T, float] | ProviderError:
        try:
            provider = self.providers.get(deployment.provider_kind)
        except UnknownProvider:
            return UnsupportedRequest(f"unknown provider kind {deployment.provider_kind!r}")
        started = time.perf_counter()
        self.stats.started(deployment.id)
        try:
            result = await attempt(provider, deployment)
        except ProviderError as exc:
            self.metrics.upstream_latency.labels(provider.kind, "error").observe(
                time.perf_counter() - started
            )
            if is_retryable(exc) or (isinstance(exc, UpstreamStatus) and exc.status in _BROKEN_DEPLOYMENT):
                await self._failed(deployment, exc)
            _log.info(
                "upstream_attempt_failed",
                deployment_id=str(deployment.id),
                provider=provider.kind,
                error=exc.error_kind,
            )
            return exc
        finally:
            self.stats.finished(deployment.id)
        elapsed = time.perf_counter() - started
        self.stats.succeeded(deployment.id, elapsed)
        self.metrics.upstream_latency.labels(provider.kind, "ok").observe(elapsed)
        return result, elapsed

    async def _failed(self, deployment: Deployment, error: ProviderError) -> None:
        if self.stats.failed(deployment.id) < self.routing.cooldown_after_failures:
            return
        seconds = self.routing.cooldown_s
        if isinstance(error, UpstreamStatus) and error.retry_after_s:
            seconds = max(seconds, error.retry_after_s)
        self.stats.failures.pop(deployment.id, None)
        self.metrics.cooldowns.inc()
        _log.warning("deployment_cooldown", deployment_id=str(deployment.id), seconds=seconds)
        await self.cooldowns.cool(deployment.id, seconds)

    def _backoff(self, previous_attempts: int, error: ProviderError | None) -> float:
        delay: float = self.routing.backoff_base_s * float(2 ** max(0, previous_attempts - 1))
        delay *= random.uniform(0.5, 1.5)  # noqa: S311 - jitter
        if isinstance(error, UpstreamStatus) and error.retry_after_s:
            delay = max(delay, error.retry_after_s)
        return min(delay, self.routing.backoff_max_s)

    @staticmethod
    def _raise_caller_error(error: ProviderError) -> None:
        if isinstance(error, UnsupportedRequest):
            raise InvalidRequest(str(error) or "This model cannot serve that request.")
        if isinstance(error, UpstreamStatus) and error.status in _CALLER_ERRORS:
            raise InvalidRequest(error.message or "The upstream provider rejected the request.")

    def _exhausted(
        self, call: _Call, error: ProviderError | None, cooling: Sequence[Deployment]
    ) -> TollgateError:
        if error is None:
            wait = min((self.cooldowns.remaining_s(d.id) for d in cooling), default=1.0)
            return NoDeploymentAvailable(
                "Every deployment of this model is cooling down or at its limits; retry later.",
                retry_after_s=max(1, math.ceil(wait)),
            )
        call.error_kind = error.error_kind
        attempts = f"after {call.attempts} attempt{'s' if call.attempts != 1 else ''}"
        if isinstance(error, UpstreamTimedOut):
            return UpstreamTimeout(f"The upstream provider timed out {attempts}.")
        if isinstance(error, UpstreamStatus) and error.status == 429:
            return NoDeploymentAvailable(
                f"The upstream provider is rate limiting {attempts}.",
                retry_after_s=max(1, math.ceil(error.retry_after_s or 1)),
            )
        if isinstance(error, UpstreamStatus):
            return UpstreamError(f"The upstream provider answered {error.status} {attempts}.")
        return UpstreamError(f"The upstream provider failed ({error.error_kind}) {attempts}.")

    # ================================================================== answer and accounting
    def _headers(
        self,
        call: _Call,
        *,
        model: str,
        deployment: str,
        attempts: int,
        cache: str,
        cost: int | None = -1,
    ) -> Headers:
        headers: Headers = [
            (b"x-tollgate-request-id", call.request_id.encode()),
            (b"x-tollgate-model", model.encode()),
            (b"x-tollgate-deployment", deployment.encode()),
            (b"x-tollgate-attempts", str(attempts).encode()),
            (b"x-tollgate-cache", cache.encode()),
        ]
        if cost is not None:
            headers.append((b"x-tollgate-cost-micro-usd", str(call.cost).encode()))
        return headers

    def _finish(self, call: _Call) -> None:
        """Queue the reservation's settle with the actual usage and record the call (idempotent per
        call). Never blocks: the settle is batched (SettleBatcher), the record buffered (SpendLog)."""
        if call.finished:
            return
        call.finished = True
        self.metrics.in_flight.dec()
        elapsed = time.perf_counter() - call.started
        usage = call.usage
        if call.reservation is not None:
            self.settler.add(
                call.reservation, actual_tokens=usage.total_tokens, actual_cost_micro_usd=call.cost
            )
        metrics, label = self.metrics, call.label
        metrics.requests.labels(call.endpoint, label, str(call.http_status)).inc()
        metrics.latency.labels(call.endpoint).observe(elapsed)
        if usage.total_tokens:
            metrics.tokens.labels(label, "prompt").inc(usage.prompt_tokens)
            metrics.tokens.labels(label, "completion").inc(usage.completion_tokens)
            if usage.cached_tokens:
                metrics.tokens.labels(label, "cached").inc(usage.cached_tokens)
            if usage.cache_write_tokens:
                metrics.tokens.labels(label, "cache_write").inc(usage.cache_write_tokens)
        if call.cost:
            metrics.cost.labels(label).inc(call.cost)
        if call.answer is not None:
            _prompt_log.info(
                "prompt_logged",
                request_id=call.request_id,
                key_id=str(call.key.id),
                model=call.model,
                status=call.status,
                **promptlog.prompt_record(
                    call.messages, "".join(call.answer), self.routing.prompt_log_max_chars
                ),
            )
        if call.reservation is None and call.http_status in (401, 403, 404, 400):
            return  # refused before admission: nothing to account
        self.spend_log.record(
            SpendRecord(
                request_id=call.request_id,
                key_id=call.key.id,
                owner_ref=call.key.owner_ref,
                model=call.model,
                deployment_id=call.deployment.id if call.deployment else None,
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                cached_tokens=usage.cached_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                cost_micro_usd=call.cost,
                latency_ms=round(elapsed * 1000),
                status=call.status,
                cache_hit=call.cache_hit,
                error_kind=call.error_kind,
                created_at=datetime.datetime.now(datetime.UTC),
            )
        )


def _with_cost(data: bytes, cost: int) -> bytes:
    """The final usage chunk with ``usage.cost_micro_usd`` added."""
    chunk = msgspec.json.decode(data)
    if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
        chunk["usage"]["cost_micro_usd"] = cost
        return _encode(chunk)
    return data


async def drain(events: AsyncGenerator[bytes, None]) -> list[bytes]:
    """Collect a stream's frames (tests and tools)."""
    async with aclosing(events) as frames:
        return [frame async for frame in frames if frame]
