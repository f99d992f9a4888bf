"""Providers and deployments as the dashboard uses them: typed reads and audited changes over the
router admin API (the same calls ``/admin/providers`` and ``/admin/deployments`` forward). The router
never returns provider keys, only their last characters (``api_key_hint``)."""

from __future__ import annotations

from typing import Any, Final, Literal

import msgspec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.errors import BadRequest, Conflict, NotFound
from tollgate_api.routeradmin.client import Forwarded, RouterAdmin

Kind = Literal["providers", "deployments"]
_NOT_FOUND: Final = 404
_CONFLICT: Final = 409
_CLIENT_ERROR: Final = 400


def _decode(forwarded: Forwarded, what: str) -> Any:
    try:
        body = msgspec.json.decode(forwarded.body) if forwarded.body else None
    except msgspec.DecodeError:
        body = None
    if forwarded.status == _NOT_FOUND:
        raise NotFound(f"The router does not know this {what}.")
    if forwarded.status == _CONFLICT:
        raise Conflict(f"The router refused the {what}: it conflicts with an existing one.")
    if forwarded.status >= _CLIENT_ERROR:
        detail = body.get("detail") if isinstance(body, dict) else None
        raise BadRequest(f"The router refused the {what}: {detail or 'invalid request'}.")
    return body


async def list_items(router: RouterAdmin, kind: Kind) -> list[dict[str, Any]]:
    body = _decode(await router.forward("GET", f"/admin/{kind}"), kind[:-1])
    items = body.get("items", body.get(kind, [])) if isinstance(body, dict) else body
    return list(items or [])


async def change(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    router: RouterAdmin,
    actor: Actor,
    *,
    method: Literal["POST", "PATCH", "DELETE"],
    kind: Kind,
    path: str = "",
    body: dict[str, Any] | None = None,
) -> Any:
    """One change through the router admin API, audited after the router accepted it (secrets such as
    ``api_key`` are never written to the audit log)."""
    raw = msgspec.json.encode(body) if body is not None else None
    answer = _decode(await router.forward(method, f"/admin/{kind}{path}", body=raw), kind[:-1])
    target_id = answer.get("id") if isinstance(answer, dict) else None
    await audit.record_alone(
        pool,
        actor,
        f"router.{method.lower()}",
        target_type=kind,
        target_id=target_id or f"/admin/{kind}{path}",
        before={"request": body},
        after=answer,
    )
    return answer


async def deployment_health(router: RouterAdmin) -> dict[str, dict[str, Any]]:
    """Cooldown state by deployment id (the router's ``/admin/deployments/health``): ``cooling_down``
    and ``cooldown_remaining_s``, as every router replica shares it through Redis."""
    body = _decode(await router.forward("GET", "/admin/deployments/health"), "deployment")
    return {str(item["id"]): item for item in body or [] if isinstance(item, dict)}
