"""Edit forms for pricing plans, model groups and access groups: the whole-record replacements
``PUT /admin/plans/{id}``, ``PUT /admin/model-groups/{id}`` and ``PUT /admin/access-groups/{id}`` do,
through the same service functions (validation, audit, router access sync for teams that use a
group). The forms are for the roles that may change them; finance is refused before the page."""

from __future__ import annotations

import uuid
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath

from tollgate_api.auth.deps import pool_of, router_admin_of
from tollgate_api.auth.guards import actor_of, require_roles
from tollgate_api.dashboard import web
from tollgate_api.dashboard.catalog import PLAN_INTS, convert
from tollgate_api.modelgroups import service as modelgroups
from tollgate_api.modelgroups.schemas import AccessGroupIn, ModelGroupIn
from tollgate_api.plans import service as plans
from tollgate_api.plans.schemas import PlanIn

_KINDS: Final = ("per_job", "consumption_usd", "consumption_tokens")
_POLICIES: Final = ("none", "provider_cost", "full")
_SAVED: Final = f"{web.PREFIX}/catalog?done=saved"


def _names(raw: str) -> list[str]:
    """``"gpt-b, gpt-c"`` → ``["gpt-b", "gpt-c"]`` (order kept, blanks dropped)."""
    return [part.strip() for part in raw.split(",") if part.strip()]


class CatalogEditPages(Controller):
    path = web.PREFIX + "/catalog"
    guards = [require_roles("operator")]  # noqa: RUF012 - the roles /admin lets change the catalog

    @get("/plans/{plan_id:uuid}")
    async def plan_form(self, request: Request[Any, Any, Any], plan_id: FromPath[uuid.UUID]) -> Response[Any]:
        plan = await plans.get_plan(pool_of(request), plan_id)
        return web.page(request, "catalog/plan_edit.html", plan=plan, kinds=_KINDS, policies=_POLICIES)

    @post("/plans/{plan_id:uuid}")
    async def plan_save(self, request: Request[Any, Any, Any], plan_id: FromPath[uuid.UUID]) -> Response[Any]:
        form = await request.form()
        pool = pool_of(request)
        current = await plans.get_plan(pool, plan_id)
        fields: dict[str, Any] = {
            "name": web.text(form, "name", max_len=200),
            "kind": web.text(form, "kind"),
            "failed_job_policy": web.text(form, "failed_job_policy"),
            "per_job_type": current.per_job_type,  # not on the form: kept as it is
        }
        for name in PLAN_INTS:
            value = web.integer(form, name, required=name == "usd_micro_per_credit", minimum=0)
            if value is not None:
                fields[name] = value
        await plans.update_plan(pool, actor_of(request), plan_id, convert(fields, PlanIn))
        return web.see_other(_SAVED)

    @get("/model-groups/{group_id:uuid}")
    async def model_group_form(
        self, request: Request[Any, Any, Any], group_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        group = await modelgroups.get_model_group(pool_of(request), group_id)
        return web.page(request, "catalog/model_group_edit.html", group=group)

    @post("/model-groups/{group_id:uuid}")
    async def model_group_save(
        self, request: Request[Any, Any, Any], group_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        data = convert(
            {
                "name": web.text(form, "name", max_len=200),
                "router_model": web.text(form, "router_model", max_len=200),
                "fallbacks": _names(web.text(form, "fallbacks", required=False, max_len=4000)),
                "description": web.text(form, "description", required=False),
            },
            ModelGroupIn,
        )
        await modelgroups.update_model_group(
            pool_of(request), router_admin_of(request), actor_of(request), group_id, data
        )
        return web.see_other(_SAVED)

    @get("/access-groups/{group_id:uuid}")
    async def access_group_form(
        self, request: Request[Any, Any, Any], group_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        pool = pool_of(request)
        return web.page(
            request,
            "catalog/access_group_edit.html",
            group=await modelgroups.get_access_group(pool, group_id),
            model_groups=await modelgroups.list_model_groups(pool),
        )

    @post("/access-groups/{group_id:uuid}")
    async def access_group_save(
        self, request: Request[Any, Any, Any], group_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        data = convert(
            {
                "name": web.text(form, "name", max_len=200),
                "model_groups": [g for g in form.getall("model_groups", []) if isinstance(g, str)],
                "description": web.text(form, "description", required=False),
            },
            AccessGroupIn,
        )
        await modelgroups.update_access_group(
            pool_of(request), router_admin_of(request), actor_of(request), group_id, data
        )
        return web.see_other(_SAVED)
