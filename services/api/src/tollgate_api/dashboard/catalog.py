"""Model groups, access groups and pricing plans, with a calculator: what a given job would be
charged and earn under a plan (the same integer pricing code that prices real jobs)."""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Any, Final, TypeVar

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery

from tollgate_api.auth.deps import pool_of
from tollgate_api.auth.guards import actor_of
from tollgate_api.dashboard import helpers, web
from tollgate_api.errors import BadRequest
from tollgate_api.modelgroups import service as modelgroups
from tollgate_api.modelgroups.schemas import AccessGroupIn, ModelGroupIn
from tollgate_api.plans import pricing
from tollgate_api.plans import service as plans
from tollgate_api.plans.schemas import PlanIn, PlanOut

T = TypeVar("T")
_OUTCOMES: Final = ("completed", "failed", "expired")
PLAN_INTS: Final = (
    "usd_micro_per_credit",
    "credits_per_job",
    "credits_per_usd",
    "markup_bps",
    "tokens_per_credit",
    "min_credits_per_job",
    "default_hold_credits",
    "max_hold_credits",
)


def usd_to_micro(value: str) -> int:
    """``"0.36"`` → 360000 (exact decimal, no floats); at most six decimals."""
    try:
        amount = decimal.Decimal(value.replace(",", "").replace("$", "").strip() or "0")
    except decimal.InvalidOperation:
        raise BadRequest("The provider cost must be an amount in USD, like 0.36.") from None
    micro = amount * 1_000_000
    if micro != micro.to_integral_value() or micro < 0 or not micro.is_finite():
        raise BadRequest("The provider cost must be a positive USD amount with at most six decimals.")
    return int(micro)


@dataclass(frozen=True, slots=True)
class Quote:
    price_credits: int
    revenue_micro_usd: int
    cost_micro_usd: int
    margin_micro_usd: int


def quote(plan: PlanOut, *, job_type: str | None, outcome: str, usage: pricing.JobUsage) -> Quote:
    model = pricing.Plan(**{f: getattr(plan, f) for f in pricing.Plan.__dataclass_fields__})
    credits = pricing.price_job(model, usage, job_type=job_type, outcome=outcome)  # type: ignore[arg-type]
    revenue = pricing.revenue_micro_usd(model, credits)
    return Quote(credits, revenue, usage.cost_micro_usd, revenue - usage.cost_micro_usd)


class CatalogPages(Controller):
    path = web.PREFIX + "/catalog"

    @get("/")
    async def catalog(  # noqa: PLR0917 - Litestar reads the query parameters from this signature
        self,
        request: Request[Any, Any, Any],
        plan_id: FromQuery[str | None] = None,
        job_type: FromQuery[str | None] = None,
        outcome: FromQuery[str] = "completed",
        calls: FromQuery[int] = 1,
        prompt_tokens: FromQuery[int] = 0,
        completion_tokens: FromQuery[int] = 0,
        cost_usd: FromQuery[str] = "0",
        done: FromQuery[str | None] = None,
    ) -> Response[Any]:
        pool = pool_of(request)
        plan_list = await plans.list_plans(pool)
        result = None
        chosen = helpers.parse_uuid(plan_id)
        if chosen is not None:
            if outcome not in _OUTCOMES:
                raise BadRequest("Unknown outcome.")
            if min(calls, prompt_tokens, completion_tokens) < 0:
                raise BadRequest("Counts cannot be negative.")
            usage = pricing.JobUsage(
                calls=calls,
                successful_calls=calls if outcome == "completed" else 0,
                prompt_tokens=prompt_tokens,
                completion_tokens=completion_tokens,
                cost_micro_usd=usd_to_micro(cost_usd),
            )
            result = quote(
                await plans.get_plan(pool, chosen), job_type=job_type or None, outcome=outcome, usage=usage
            )
        return web.page(
            request,
            "catalog.html",
            model_groups=await modelgroups.list_model_groups(pool),
            access_groups=await modelgroups.list_access_groups(pool),
            plans=plan_list,
            kinds=("per_job", "consumption_usd", "consumption_tokens"),
            policies=("none", "provider_cost", "full"),
            outcomes=_OUTCOMES,
            calc={
                "plan_id": plan_id or "",
                "job_type": job_type or "",
                "outcome": outcome,
                "calls": calls,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cost_usd": cost_usd,
            },
            quote=result,
            flash={"created": "Created.", "saved": "Saved."}.get(done or ""),
        )

    @post("/model-groups")
    async def create_model_group(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        data = convert(
            {
                "name": web.text(form, "name", max_len=200),
                "router_model": web.text(form, "router_model", max_len=200),
                "description": web.text(form, "description", required=False),
            },
            ModelGroupIn,
        )
        await modelgroups.create_model_group(pool_of(request), actor_of(request), data)
        return web.see_other(f"{web.PREFIX}/catalog?done=created")

    @post("/access-groups")
    async def create_access_group(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        data = convert(
            {
                "name": web.text(form, "name", max_len=200),
                "model_groups": list(form.getall("model_groups", [])),
            },
            AccessGroupIn,
        )
        await modelgroups.create_access_group(pool_of(request), actor_of(request), data)
        return web.see_other(f"{web.PREFIX}/catalog?done=created")

    @post("/plans")
    async def create_plan(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        fields: dict[str, Any] = {
            "name": web.text(form, "name", max_len=200),
            "kind": web.text(form, "kind"),
            "failed_job_policy": web.text(form, "failed_job_policy"),
        }
        for name in PLAN_INTS:
            value = web.integer(form, name, required=name == "usd_micro_per_credit", minimum=0)
            if value is not None:
                fields[name] = value
        await plans.create_plan(pool_of(request), actor_of(request), convert(fields, PlanIn))
        return web.see_other(f"{web.PREFIX}/catalog?done=created")


def convert(fields: dict[str, Any], kind: type[T]) -> T:
    try:
        return msgspec.convert(fields, kind)
    except msgspec.ValidationError as exc:
        raise BadRequest(f"Invalid form: {exc}") from None
