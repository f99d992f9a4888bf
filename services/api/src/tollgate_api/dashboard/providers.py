"""Providers and deployments (admin only, like ``/admin/providers``): provider keys are write-only
(the page shows the last four characters), deployment prices per million tokens, and each
deployment's health: cooling down (with seconds left) or healthy, as the router replicas share it."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery

from tollgate_api.auth.deps import pool_of, router_admin_of
from tollgate_api.auth.guards import actor_of, require_roles
from tollgate_api.dashboard import web
from tollgate_api.errors import BadRequest, NotFound, RouterUnavailable
from tollgate_api.routeradmin import service as routing
from tollgate_api.routeradmin.client import RouterAdmin

_KINDS = ("openai", "openai_compatible", "azure_openai", "anthropic", "mock")


async def _health(router: RouterAdmin) -> dict[str, dict[str, Any]] | None:
    """Cooldowns by deployment id; None (shown as "unknown") when the router cannot say."""
    try:
        return await routing.deployment_health(router)
    except (NotFound, BadRequest, RouterUnavailable):
        return None


class ProvidersPages(Controller):
    path = web.PREFIX + "/providers"
    guards = [require_roles("admin")]  # noqa: RUF012 - the same rule as /admin/providers

    @get("/")
    async def list_page(
        self, request: Request[Any, Any, Any], done: FromQuery[str | None] = None
    ) -> Response[Any]:
        router = router_admin_of(request)
        providers = await routing.list_items(router, "providers")
        names = {str(p.get("id")): p.get("name", "") for p in providers}
        return web.page(
            request,
            "providers.html",
            providers=providers,
            deployments=await routing.list_items(router, "deployments"),
            health=await _health(router),
            names=names,
            kinds=_KINDS,
            flash={"created": "Created.", "rotated": "Key replaced.", "saved": "Saved."}.get(done or ""),
        )

    @post("/")
    async def create_provider(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        body: dict[str, Any] = {"name": web.text(form, "name", max_len=200), "kind": web.text(form, "kind")}
        if base_url := web.text(form, "base_url", required=False, max_len=2000):
            body["base_url"] = base_url
        if api_key := web.text(form, "api_key", required=False, max_len=4096):
            body["api_key"] = api_key
        await routing.change(
            pool_of(request),
            router_admin_of(request),
            actor_of(request),
            method="POST",
            kind="providers",
            path="",
            body=body,
        )
        return web.see_other(f"{web.PREFIX}/providers?done=created")

    @post("/{provider_id:uuid}/key")
    async def replace_key(
        self, request: Request[Any, Any, Any], provider_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        body = {"api_key": web.text(form, "api_key", max_len=4096)}
        await routing.change(
            pool_of(request),
            router_admin_of(request),
            actor_of(request),
            method="POST",
            kind="providers",
            path=f"/{provider_id}/rotate-key",
            body=body,
        )
        return web.see_other(f"{web.PREFIX}/providers?done=rotated")

    @post("/deployments")
    async def create_deployment(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        body: dict[str, Any] = {
            "model_name": web.text(form, "model_name", max_len=200),
            "provider_id": web.text(form, "provider_id"),
            "upstream_model": web.text(form, "upstream_model", max_len=200),
        }
        for name in (
            "input_price_micro_usd_per_mtok",
            "output_price_micro_usd_per_mtok",
            "cached_input_price_micro_usd_per_mtok",
            "rpm",
            "tpm",
        ):
            value = web.integer(form, name, required=False, minimum=0)
            if value is not None:
                body[name] = value
        await routing.change(
            pool_of(request),
            router_admin_of(request),
            actor_of(request),
            method="POST",
            kind="deployments",
            path="",
            body=body,
        )
        return web.see_other(f"{web.PREFIX}/providers?done=created")

    @post("/deployments/{deployment_id:uuid}/enabled")
    async def toggle(
        self, request: Request[Any, Any, Any], deployment_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        enabled = web.text(form, "enabled") == "true"
        await routing.change(
            pool_of(request),
            router_admin_of(request),
            actor_of(request),
            method="PATCH",
            kind="deployments",
            path=f"/{deployment_id}",
            body={"enabled": enabled},
        )
        return web.see_other(f"{web.PREFIX}/providers?done=saved")
