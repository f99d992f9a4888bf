"""The api's client of the router admin API (``{settings.router.url}/admin/...``, service token).

One ``httpx.AsyncClient`` per process, created in the lifespan with explicit timeouts; admin traffic
is rare and off the hot path, so httpx's pool is plenty here. Transport failures and router 5xx
become :class:`RouterUnavailable`; the router's 4xx problems are passed through by the forwarding
controllers and mapped to ``BadRequest`` / ``Conflict`` / ``NotFound`` by the typed calls.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import msgspec
import structlog

from tollgate_api.errors import BadRequest, Conflict, NotFound, RouterUnavailable
from tollgate_api.settings import RouterClientSettings
from tollgate_common.env import Secret

_log = structlog.get_logger("tollgate.routeradmin")


@dataclass(frozen=True, slots=True)
class RouterKey:
    id: str
    key: Secret


@dataclass(frozen=True, slots=True)
class Forwarded:
    status: int
    content_type: str
    body: bytes


class RouterAdmin:
    """Typed calls for what the api needs (virtual keys) and raw forwarding for the rest."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    @classmethod
    def from_settings(
        cls, settings: RouterClientSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> RouterAdmin:
        client = httpx.AsyncClient(
            base_url=settings.url,
            headers={"authorization": f"Bearer {settings.admin_token.get()}"},
            timeout=httpx.Timeout(10.0, connect=settings.connect_timeout_s),
            limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
            transport=transport,
        )
        return cls(client)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            _log.warning("router_admin_unreachable", method=method, path=path, error=type(exc).__name__)
            raise RouterUnavailable() from exc
        if response.status_code >= 500:
            _log.warning("router_admin_failed", method=method, path=path, status=response.status_code)
            raise RouterUnavailable()
        return response

    @staticmethod
    def _raise_for_client_error(response: httpx.Response, what: str) -> None:
        if response.status_code < 400:
            return
        _log.warning("router_admin_refused", what=what, status=response.status_code)
        if response.status_code == 404:
            raise NotFound(f"The router does not know this {what}.")
        if response.status_code == 409:
            raise Conflict(f"The router refused the {what}: conflict.")
        if response.status_code in (401, 403):
            raise RouterUnavailable("The router refused the api's credentials.")
        raise BadRequest(f"The router refused the {what}.")

    async def create_key(
        self,
        *,
        owner_ref: str,
        allowed_models: list[str] | None,
        rpm: int | None,
        tpm: int | None,
        metadata: dict[str, Any],
    ) -> RouterKey:
        body = {
            "owner_ref": owner_ref,
            "allowed_models": allowed_models,
            "rpm": rpm,
            "tpm": tpm,
            "metadata": metadata,
        }
        response = await self._request("POST", "/admin/keys", json=body)
        self._raise_for_client_error(response, "virtual key")
        data = msgspec.json.decode(response.content)
        return RouterKey(id=str(data["id"]), key=Secret(str(data["key"])))

    async def patch_key(self, key_id: str, fields: dict[str, Any]) -> None:
        response = await self._request("PATCH", f"/admin/keys/{uuid.UUID(key_id)}", json=fields)
        self._raise_for_client_error(response, "virtual key")

    async def forward(
        self, method: str, path: str, *, query: str = "", body: bytes | None = None
    ) -> Forwarded:
        """Forward one admin call as is (path under ``/admin``); never adds the caller's credentials."""
        url = path + (f"?{query}" if query else "")
        headers = {"content-type": "application/json"} if body else {}
        response = await self._request(method, url, content=body or None, headers=headers)
        return Forwarded(
            status=response.status_code,
            content_type=response.headers.get("content-type", "application/json"),
            body=response.content,
        )
