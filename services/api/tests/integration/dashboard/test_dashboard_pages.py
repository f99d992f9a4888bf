"""Every dashboard page renders for each role that may see it, lists filter and refuse bad input
with a 4xx page (never a 500), and the pricing calculator quotes with the real pricing code."""

from __future__ import annotations

import re
import uuid
from typing import Any

PAGES = (
    "/dashboard/",
    "/dashboard/organizations",
    "/dashboard/teams",
    "/dashboard/teams/new",
    "/dashboard/jobs",
    "/dashboard/reports",
    "/dashboard/reports?group_by=job_type",
    "/dashboard/catalog",
    "/dashboard/audit",
    "/dashboard/password",
)


async def test_each_role_sees_the_pages_and_only_admin_sees_users(dashboard: Any) -> None:
    async with dashboard() as dash:
        for role in ("admin", "operator", "finance"):
            client = await dash.browser(role)
            for url in PAGES:
                response = await client.get(url)
                assert response.status_code == 200, (role, url, response.text[:500])
                assert response.headers["content-type"].startswith("text/html")
                assert "default-src 'self'" in response.headers["content-security-policy"]
                assert "cdn" not in response.text.lower()
            users = await client.get("/dashboard/users")
            assert users.status_code == (200 if role == "admin" else 403), role
            assert ('href="/dashboard/users"' in (await client.get("/dashboard/")).text) == (role == "admin")


async def test_bad_input_gets_a_4xx_page_not_a_500(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = await dash.browser("operator")
        cases = {
            "/dashboard/jobs?team_id=nope": 400,
            "/dashboard/jobs?status=bogus": 400,
            "/dashboard/jobs?created_after=yesterday": 400,
            f"/dashboard/jobs/{uuid.uuid4()}": 404,
            "/dashboard/jobs/not-a-job": 404,
            f"/dashboard/teams/{uuid.uuid4()}": 404,
            f"/dashboard/organizations/{uuid.uuid4()}": 404,
            "/dashboard/reports?group_by=planet": 400,
            "/dashboard/reports?from_=2026-02-30": 400,
            "/dashboard/catalog?plan_id=" + str(uuid.uuid4()): 404,
            "/dashboard/teams?after=garbage": 200,  # a bad cursor restarts at the first page
        }
        for url, status in cases.items():
            response = await client.get(url)
            assert response.status_code == status, (url, response.status_code, response.text[:300])
            assert response.headers["content-type"].startswith("text/html")
        org = await dash.world.organization()
        bad_form = await dash.submit(
            client,
            f"/dashboard/teams/new?organization_id={org.id}",
            "/dashboard/teams",
            organization_id=str(org.id),
            pricing_plan_id="not-a-plan",
            name="x",
        )
        assert bad_form.status_code == 400
        assert "Choose an organization and a pricing plan" in bad_form.text


async def test_pricing_calculator_quotes_price_revenue_and_margin(dashboard: Any) -> None:
    async with dashboard() as dash:
        plan = await dash.world.plan()  # per job: 10 credits at $0.01
        client = await dash.browser("finance")
        page = await client.get(
            f"/dashboard/catalog?plan_id={plan.id}&outcome=completed&calls=2&prompt_tokens=100"
            "&completion_tokens=20&cost_usd=0.035"
        )
        assert page.status_code == 200
        assert re.search(r'id="quote-credits">10 credits<', page.text)
        assert re.search(r'id="quote-revenue">\$0\.10<', page.text)
        assert re.search(r'id="quote-margin">\$0\.07 ', page.text)  # 0.100 - 0.035 = 0.065 → $0.07
        failed = await client.get(f"/dashboard/catalog?plan_id={plan.id}&outcome=failed&cost_usd=0.035")
        assert re.search(r'id="quote-credits">0 credits<', failed.text)  # failed jobs pay nothing here
        assert (
            await client.get(f"/dashboard/catalog?plan_id={plan.id}&cost_usd=0.0000001")
        ).status_code == 400


async def test_operator_creates_catalogue_entries_and_finance_cannot(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = await dash.browser("operator")
        made = await dash.submit(
            client,
            "/dashboard/catalog",
            "/dashboard/catalog/model-groups",
            name="chat-fast",
            router_model="gpt-x",
        )
        assert made.status_code == 303
        made = await dash.submit(
            client,
            "/dashboard/catalog",
            "/dashboard/catalog/access-groups",
            name="basic",
            model_groups="chat-fast",
        )
        assert made.status_code == 303
        made = await dash.submit(
            client,
            "/dashboard/catalog",
            "/dashboard/catalog/plans",
            name="flat",
            kind="per_job",
            usd_micro_per_credit="10000",
            credits_per_job="3",
            failed_job_policy="none",
        )
        assert made.status_code == 303
        page = (await client.get("/dashboard/catalog")).text
        for shown in ("chat-fast", "basic", "3 credits per job"):
            assert shown in page
        finance = await dash.browser("finance")
        page = (await finance.get("/dashboard/catalog")).text
        assert 'action="/dashboard/catalog/plans"' not in page
        token = dash.csrf_of(page)
        refused = await finance.post(
            "/dashboard/catalog/model-groups", data={"_csrf": token, "name": "x", "router_model": "y"}
        )
        assert refused.status_code == 403
        assert (await finance.get("/dashboard/providers")).status_code == 403
