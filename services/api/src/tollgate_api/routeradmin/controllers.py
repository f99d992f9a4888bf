"""``/admin/providers`` and ``/admin/deployments``: forwarded to the router admin API (admin only).

The router never returns provider keys (it stores them encrypted and answers with hints); responses
are passed through as they are, with the router's status and content type. Successful mutations are
audited here after the router answered (the change lives in the router's database, so the audit row
cannot share its transaction); request bodies are recorded without secret fields (``api_key`` …).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, route
from litestar.enums import HttpMethod

from tollgate_api.audit import service as audit
from tollgate_api.auth.deps import pool_of, router_admin_of
from tollgate_api.auth.guards import actor_of, require_roles

_METHODS = [HttpMethod.GET, HttpMethod.POST, HttpMethod.PUT, HttpMethod.PATCH, HttpMethod.DELETE]


async def _forward(request: Request[Any, Any, Any]) -> Response[bytes]:
    body = await request.body() if request.method in ("POST", "PUT", "PATCH") else None
    forwarded = await router_admin_of(request).forward(
        request.method, request.url.path, query=request.url.query or "", body=body or None
    )
    if request.method != "GET" and forwarded.status < 400:
        await audit_forwarded(request, body, forwarded.body)
    return Response(content=forwarded.body, status_code=forwarded.status, media_type=forwarded.content_type)


async def audit_forwarded(request: Request[Any, Any, Any], body: bytes | None, answer: bytes) -> None:
    def decoded(raw: bytes | None) -> Any:
        try:
            return msgspec.json.decode(raw) if raw else None
        except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
            return None

    after = decoded(answer)
    target_id = after.get("id") if isinstance(after, dict) else None
    await audit.record_alone(
        pool_of(request),
        actor_of(request),
        f"router.{request.method.lower()}",
        target_type=request.url.path.split("/")[2],  # providers | deployments
        target_id=target_id or request.url.path,
        before={"request": decoded(body)},
        after=after,
    )


@route(
    [
        "/admin/providers",
        "/admin/providers/{rest:path}",
        "/admin/deployments",
        "/admin/deployments/{rest:path}",
    ],
    http_method=_METHODS,
    guards=[require_roles("admin")],
    tags=["admin: routing"],
    summary="Providers and deployments (forwarded to the router admin API)",
)
async def forward_routing_admin(request: Request[Any, Any, Any]) -> Response[bytes]:
    return await _forward(request)
