"""``GET /admin/keys/budgets``: every key with a budget and its current-period spend in one answer,
behind the admin token."""

from __future__ import annotations

from typing import Any

from tollgate_router.keys.service import KeyAdmin
from tollgate_router.limits.service import Limiter


async def test_lists_only_budgeted_keys_with_their_current_period_spend(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as r:
        made = {}
        for owner, budget, period in (("t-month", 1_000_000, "month"), ("t-total", 50, "total")):
            created = await r.client.post(
                "/admin/keys",
                json={"owner_ref": owner, "budget_micro_usd": budget, "budget_period": period},
                headers=admin_headers,
            )
            assert created.status_code == 201, created.text
            made[owner] = created.json()["id"]
        no_budget = await r.client.post("/admin/keys", json={"owner_ref": "t-free"}, headers=admin_headers)
        assert no_budget.status_code == 201, no_budget.text
        key_admin: KeyAdmin = r.app.state["key_admin"]
        limiter: Limiter = r.app.state["limiter"]
        month_start = None
        for key in await key_admin.with_budget():
            await limiter.set_spend(key, 812_345 if key.owner_ref == "t-month" else 50)
            if key.owner_ref == "t-month":
                month_start = limiter.period_start(key)

        listed = await r.client.get("/admin/keys/budgets", headers=admin_headers)

    assert listed.status_code == 200, listed.text
    by_owner = {row["owner_ref"]: row for row in listed.json()}
    assert set(by_owner) == {"t-month", "t-total"}
    assert by_owner["t-month"] == {
        "key_id": made["t-month"],
        "owner_ref": "t-month",
        "budget_micro_usd": 1_000_000,
        "budget_period": "month",
        "period_start": month_start.isoformat().replace("+00:00", "Z") if month_start else "?",
        "period_spend_micro_usd": 812_345,
    }
    assert by_owner["t-total"]["period_start"] is None
    assert by_owner["t-total"]["period_spend_micro_usd"] == 50


async def test_budgets_need_the_admin_token(running_app: Any) -> None:
    async with running_app() as r:
        anonymous = await r.client.get("/admin/keys/budgets")
        wrong = await r.client.get("/admin/keys/budgets", headers={"authorization": "Bearer nope"})
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
