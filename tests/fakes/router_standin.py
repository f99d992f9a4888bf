"""A tiny stand-in for tollgate-router's data plane and key admin, in front of a fake provider.

Speaks what tollgate-api needs from the router, over real HTTP on 127.0.0.1 (own thread, own loop):

* ``POST /v1/chat/completions`` (JSON and SSE): checks the bearer virtual key and its allowed models,
  forwards to ``upstream`` (e.g. ``FakeOpenAI().base_url``) with ``model`` mapped to an upstream model,
  prices the call from usage with integer micro-USD prices per million tokens, and answers with the
  router's headers ``x-tollgate-request-id``, ``-cost-micro-usd``, ``-model``, ``-deployment``,
  ``-attempts``, ``-cache``. For streams the cost is put in the final usage chunk
  (``usage.cost_micro_usd``). Upstream errors become router-style errors (429 with Retry-After, 5xx
  → 502 ``{"error": {...}}``).
* ``POST /admin/keys`` {owner_ref, allowed_models, ...} → ``{id, key}``; ``PATCH /admin/keys/{id}``;
  ``POST /admin/keys/{id}/block`` — enough for the api's team creation.

Used by the job API tests while (or where) the real router is not wired in; the names it reports
(``MODEL``, ``DEPLOYMENT``, ``PROVIDER``) are what the no-leak test searches for.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
import msgspec
from aiohttp import web

MODEL = "gpt-4o-mini-standin-2024"
DEPLOYMENT = "dep-openai-standin-eu1"
PROVIDER = "openai-standin-provider"

_json = msgspec.json.encode


@dataclass
class VirtualKey:
    id: str
    key: str
    owner_ref: str
    allowed_models: list[str] | None
    blocked: bool = False


@dataclass
class Prices:
    """Micro-USD per million tokens."""

    input: int = 150_000_000  # $150 / M: big enough that small test prompts cost whole micro-dollars
    output: int = 600_000_000
    cached_input: int = 75_000_000


@dataclass
class RouterStandIn:
    upstream: str
    upstream_key: str | None = None
    prices: Prices = field(default_factory=Prices)
    model_map: Mapping[str, str] = field(default_factory=dict)
    admin_token: str = "standin-admin-token"
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.keys: dict[str, VirtualKey] = {}
        self.calls: list[dict[str, Any]] = []
        self.disconnects = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.port = 0
        self._ready = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_key(self, allowed_models: list[str] | None = None, owner_ref: str = "test") -> str:
        key = "vk_" + secrets.token_urlsafe(24)
        self.keys[key] = VirtualKey(uuid.uuid4().hex, key, owner_ref, allowed_models)
        return key

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._run, name="router-standin", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("router stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        loop.run_until_complete(self._startup())
        self._ready.set()
        loop.run_forever()
        loop.close()

    async def _startup(self) -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/admin/keys", self._create_key)
        app.router.add_patch("/admin/keys/{key_id}", self._patch_key)
        app.router.add_post("/admin/keys/{key_id}/block", self._block_key)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))

    async def _shutdown(self) -> None:
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ admin

    def _admin_ok(self, request: web.Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.admin_token}"

    async def _create_key(self, request: web.Request) -> web.Response:
        if not self._admin_ok(request):
            return web.json_response({"title": "unauthorized"}, status=401)
        body = await request.json()
        key = self.add_key(body.get("allowed_models"), body.get("owner_ref", ""))
        vk = self.keys[key]
        return web.json_response({"id": vk.id, "key": key, "owner_ref": vk.owner_ref}, status=201)

    def _by_id(self, key_id: str) -> VirtualKey | None:
        return next((k for k in self.keys.values() if k.id == key_id), None)

    async def _patch_key(self, request: web.Request) -> web.Response:
        vk = self._by_id(request.match_info["key_id"])
        if not self._admin_ok(request) or vk is None:
            return web.json_response({"title": "not found"}, status=404)
        body = await request.json()
        if "allowed_models" in body:
            vk.allowed_models = body["allowed_models"]
        return web.json_response({"id": vk.id, "owner_ref": vk.owner_ref})

    async def _block_key(self, request: web.Request) -> web.Response:
        vk = self._by_id(request.match_info["key_id"])
        if not self._admin_ok(request) or vk is None:
            return web.json_response({"title": "not found"}, status=404)
        vk.blocked = True
        return web.json_response({"id": vk.id, "blocked": True})

    # ------------------------------------------------------------------ data plane

    @staticmethod
    def _error(
        status: int, message: str, kind: str, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        return web.Response(
            body=_json({"error": {"message": message, "type": kind, "code": None, "param": None}}),
            status=status,
            content_type="application/json",
            headers=dict(headers or {}),
        )

    def cost(self, usage: Mapping[str, Any]) -> int:
        prompt = int(usage.get("prompt_tokens") or 0)
        completion = int(usage.get("completion_tokens") or 0)
        details = usage.get("prompt_tokens_details") or {}
        cached = int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0
        total = (
            (prompt - cached) * self.prices.input
            + cached * self.prices.cached_input
            + completion * self.prices.output
        )
        return (total + 500_000) // 1_000_000

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        vk = self.keys.get(bearer)
        if vk is None or vk.blocked:
            return self._error(401, "Invalid virtual key.", "authentication_error")
        body: dict[str, Any] = msgspec.json.decode(await request.read())
        requested = str(body.get("model", ""))
        if vk.allowed_models is not None and requested not in vk.allowed_models:
            return self._error(403, f"Key may not use model {requested}.", "permission_error")
        upstream_body = {**body, "model": self.model_map.get(requested, MODEL)}
        request_id = uuid.uuid4().hex
        self.calls.append(
            {"body": body, "request_id": request_id, "x_request_id": request.headers.get("x-request-id")}
        )
        headers = {"content-type": "application/json"}
        if self.upstream_key:
            headers["authorization"] = f"Bearer {self.upstream_key}"
        assert self._session is not None
        try:
            upstream = await self._session.post(
                self.upstream.rstrip("/") + "/chat/completions", data=_json(upstream_body), headers=headers
            )
        except aiohttp.ClientError:
            return self._error(502, f"{PROVIDER} unreachable", "upstream_error")
        base_headers = {
            "x-tollgate-request-id": request_id,
            "x-tollgate-model": upstream_body["model"],
            "x-tollgate-deployment": DEPLOYMENT,
            "x-tollgate-attempts": "1",
            "x-tollgate-cache": "miss",
        }
        if upstream.status != 200:
            raw = await upstream.read()
            upstream.release()
            if upstream.status == 429:
                return self._error(
                    429,
                    f"{PROVIDER} rate limit for {MODEL}",
                    "rate_limit_error",
                    {"retry-after": "2", **base_headers},
                )
            if upstream.status >= 500:
                return self._error(502, f"{PROVIDER} failed: {raw[:80]!r}", "upstream_error", base_headers)
            return self._error(
                upstream.status, f"{PROVIDER} refused {MODEL}", "invalid_request_error", base_headers
            )
        if not body.get("stream"):
            data = await upstream.json()
            upstream.release()
            usage = data.get("usage") or {}
            data["usage"] = {**usage, "cost_micro_usd": self.cost(usage)}
            return web.Response(
                body=_json(data),
                content_type="application/json",
                headers={**base_headers, "x-tollgate-cost-micro-usd": str(self.cost(usage))},
            )
        return await self._stream(request, upstream, base_headers)

    async def _stream(
        self, request: web.Request, upstream: aiohttp.ClientResponse, headers: dict[str, str]
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={**headers, "content-type": "text/event-stream"})
        await response.prepare(request)
        try:
            async for raw in upstream.content:
                line = raw.strip()
                if line.startswith(b"data:") and line[5:].strip() not in (b"", b"[DONE]"):
                    chunk = msgspec.json.decode(line[5:].strip())
                    if isinstance(chunk, dict) and isinstance(chunk.get("usage"), dict):
                        chunk["usage"]["cost_micro_usd"] = self.cost(chunk["usage"])
                        line = b"data: " + _json(chunk)
                if line:
                    await response.write(line + b"\n\n")
        except (ConnectionResetError, aiohttp.ClientError, asyncio.CancelledError):
            self.disconnects += 1
            upstream.close()
            raise
        upstream.release()
        await response.write_eof()
        return response
