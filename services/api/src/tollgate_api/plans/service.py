"""Pricing plans: CRUD for operators, and :func:`plan_from_row` for the rest of the api.

The pricing maths is pure and lives in :mod:`tollgate_api.plans.pricing`.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.errors import Conflict, NotFound
from tollgate_api.plans import repository
from tollgate_api.plans.pricing import Plan, validate_plan
from tollgate_api.plans.schemas import PlanIn, PlanOut
from tollgate_common.db import connection, transaction


def plan_from_row(row: repository.PricingPlan) -> Plan:
    return Plan(
        id=row.id,
        name=row.name,
        kind=row.kind,
        credits_per_job=row.credits_per_job,
        per_job_type={str(k): int(v) for k, v in (row.per_job_type or {}).items()},
        credits_per_usd=row.credits_per_usd,
        markup_bps=row.markup_bps,
        tokens_per_credit=row.tokens_per_credit,
        min_credits_per_job=row.min_credits_per_job,
        usd_micro_per_credit=row.usd_micro_per_credit,
        failed_job_policy=row.failed_job_policy,
        default_hold_credits=row.default_hold_credits,
        max_hold_credits=row.max_hold_credits,
    )


def _out(row: repository.PricingPlan) -> PlanOut:
    data = msgspec.structs.asdict(row)
    data["per_job_type"] = {str(k): int(v) for k, v in (row.per_job_type or {}).items()}
    return PlanOut(**data)


def _plan(plan_id: uuid.UUID, data: PlanIn) -> Plan:
    plan = Plan(id=plan_id, **msgspec.structs.asdict(data))
    validate_plan(plan)
    return plan


async def create_plan(pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, data: PlanIn) -> PlanOut:
    plan = _plan(uuid.uuid4(), data)
    async with transaction(pool) as conn:
        row = await repository.create(conn, plan)
        out = _out(row)
        await audit.record(
            conn, actor, "pricing_plan.create", target_type="pricing_plan", target_id=row.id, after=out
        )
    return out


async def update_plan(
    pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, plan_id: uuid.UUID, data: PlanIn
) -> PlanOut:
    plan = _plan(plan_id, data)
    async with transaction(pool) as conn:
        before = await repository.get(conn, plan_id)
        if before is None:
            raise NotFound("Pricing plan not found.")
        row = await repository.update(conn, plan)
        assert row is not None
        out = _out(row)
        await audit.record(
            conn,
            actor,
            "pricing_plan.update",
            target_type="pricing_plan",
            target_id=plan_id,
            before=_out(before),
            after=out,
        )
    return out


async def delete_plan(
    pool: AsyncConnectionPool[AsyncConnection[Any]], actor: Actor, plan_id: uuid.UUID
) -> None:
    async with transaction(pool) as conn:
        before = await repository.get(conn, plan_id)
        if before is None:
            raise NotFound("Pricing plan not found.")
        try:
            await repository.delete(conn, plan_id)
        except Conflict:
            raise Conflict("The pricing plan is still used by a team.") from None
        await audit.record(
            conn,
            actor,
            "pricing_plan.delete",
            target_type="pricing_plan",
            target_id=plan_id,
            before=_out(before),
        )


async def get_plan(pool: AsyncConnectionPool[AsyncConnection[Any]], plan_id: uuid.UUID) -> PlanOut:
    async with connection(pool) as conn:
        row = await repository.get(conn, plan_id)
    if row is None:
        raise NotFound("Pricing plan not found.")
    return _out(row)


async def load_plan(conn: AsyncConnection[Any], plan_id: uuid.UUID) -> Plan:
    row = await repository.get(conn, plan_id)
    if row is None:
        raise NotFound("Pricing plan not found.")
    return plan_from_row(row)


async def list_plans(pool: AsyncConnectionPool[AsyncConnection[Any]]) -> list[PlanOut]:
    async with connection(pool) as conn:
        rows = await repository.list_all(conn)
    return [_out(r) for r in rows]
