"""Pricing-plan rows (the only caller of the generated ``pricing_plans`` queries)."""

from __future__ import annotations

import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import pricing_plans as q
from tollgate_api.db.models import PricingPlan
from tollgate_api.plans.pricing import Plan
from tollgate_common.db import checked

__all__ = ["PricingPlan", "create", "delete", "get", "list_all", "update"]


def _fields(plan: Plan) -> dict[str, Any]:
    return {
        "name": plan.name,
        "kind": plan.kind,
        "credits_per_job": plan.credits_per_job,
        "per_job_type": dict(plan.per_job_type),
        "credits_per_usd": plan.credits_per_usd,
        "markup_bps": plan.markup_bps,
        "tokens_per_credit": plan.tokens_per_credit,
        "min_credits_per_job": plan.min_credits_per_job,
        "usd_micro_per_credit": plan.usd_micro_per_credit,
        "failed_job_policy": plan.failed_job_policy,
        "default_hold_credits": plan.default_hold_credits,
        "max_hold_credits": plan.max_hold_credits,
    }


async def create(conn: AsyncConnection[Any], plan: Plan) -> PricingPlan:
    row = await checked(q.pricing_plan_create(conn, id=plan.id, **_fields(plan)))
    assert row is not None
    return row


async def update(conn: AsyncConnection[Any], plan: Plan) -> PricingPlan | None:
    return await checked(q.pricing_plan_update(conn, id=plan.id, **_fields(plan)))


async def get(conn: AsyncConnection[Any], plan_id: uuid.UUID) -> PricingPlan | None:
    return await checked(q.pricing_plan_get(conn, id=plan_id))


async def list_all(conn: AsyncConnection[Any]) -> list[PricingPlan]:
    return await checked(q.pricing_plan_list(conn))


async def delete(conn: AsyncConnection[Any], plan_id: uuid.UUID) -> int:
    return await checked(q.pricing_plan_delete(conn, id=plan_id))
