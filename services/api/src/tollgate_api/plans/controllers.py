"""``/admin/pricing-plans`` (HTTP only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath

from tollgate_api.auth.deps import pool_of, revocations_of
from tollgate_api.auth.guards import actor_of
from tollgate_api.plans import service
from tollgate_api.plans.schemas import PlanIn, PlanOut

PlanBody = Annotated[
    PlanIn,
    Body(
        examples=[
            Example(
                summary="Cost plus 50 % markup, 1 credit = 1 cent",
                value={
                    "name": "usage-plus-50",
                    "kind": "consumption_usd",
                    "usd_micro_per_credit": 10000,
                    "credits_per_usd": 100,
                    "markup_bps": 5000,
                    "min_credits_per_job": 1,
                    "failed_job_policy": "provider_cost",
                    "default_hold_credits": 50,
                    "max_hold_credits": 1000,
                },
            )
        ]
    ),
]


class PricingPlansController(Controller):
    path = "/admin/pricing-plans"
    tags = ["admin: pricing"]  # noqa: RUF012

    @post("/", summary="Create a pricing plan")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: PlanBody,
    ) -> PlanOut:
        return await service.create_plan(pool_of(request), actor_of(request), data)

    @get("/", summary="List pricing plans")
    async def list_plans(self, request: Request[Any, Any, Any]) -> list[PlanOut]:
        return await service.list_plans(pool_of(request))

    @get("/{plan_id:uuid}", summary="One pricing plan")
    async def get_plan(self, request: Request[Any, Any, Any], plan_id: FromPath[uuid.UUID]) -> PlanOut:
        return await service.get_plan(pool_of(request), plan_id)

    @put("/{plan_id:uuid}", summary="Replace a pricing plan (applies to jobs created afterwards)")
    async def update(
        self,
        request: Request[Any, Any, Any],
        plan_id: FromPath[uuid.UUID],
        data: PlanBody,
    ) -> PlanOut:
        out = await service.update_plan(pool_of(request), actor_of(request), plan_id, data)
        await revocations_of(request).bump()
        return out

    @delete("/{plan_id:uuid}", summary="Delete a plan no team uses")
    async def remove(self, request: Request[Any, Any, Any], plan_id: FromPath[uuid.UUID]) -> None:
        await service.delete_plan(pool_of(request), actor_of(request), plan_id)
