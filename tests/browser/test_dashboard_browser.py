"""The operator dashboard in a real browser (issue 6, "Done when"): an admin creates the operator
and finance users; the operator creates an organization and a team, takes its API key (shown once)
and uses it with the job API, allocates credits and sees the balance change, opens a job's detail
and sees its margin, exports the margin CSV and checks its rows, suspends the team and sees its next
job refused; finance sees the pages but no controls, and its forged mutations are refused.
Screenshots of the main pages go to docs/img/dashboard/ (included in docs/dashboard.md).

The api serves over loopback HTTP in this test's event loop, in front of the real tollgate-router
and a fake OpenAI provider (tests.jobs_support.job_world).
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

import anyio

from tests.fakes import Behavior
from tests.jobs_support import ACTOR, GROUP, PROVIDER_KEY, PROVIDER_NAME, ROUTER_MODEL, job_world
from tollgate_api.modelgroups import service as modelgroups
from tollgate_api.modelgroups.schemas import AccessGroupIn, ModelGroupIn
from tollgate_api.plans import service as plans
from tollgate_api.plans.schemas import PlanIn
from tollgate_api.usage import service as usage

# `make screenshots` (TOLLGATE_UPDATE_SCREENSHOTS=1) refreshes the committed pictures in docs/; other runs
# still take every screenshot (it is part of the journey) but keep them out of the work tree.
SHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard"
    if os.environ.get("TOLLGATE_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "tollgate-dashboard-screenshots"
)
ADMIN_EMAIL = "admin@tollgate.test"
ADMIN_PASSWORD = "browser admin passphrase"
PASSWORD = "a long enough passphrase"
MESSAGES = [{"role": "user", "content": "Classify this support ticket about billing"}]


async def _login(browser: Any, base_url: str, email: str, password: str) -> Any:
    context = await browser.new_context(
        base_url=base_url,
        viewport={"width": 1280, "height": 860},
        timezone_id="Europe/Paris",
        accept_downloads=True,
    )
    context.set_default_timeout(15_000)
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # the confirmations of status and key actions
    await page.goto("/dashboard/")
    assert "/dashboard/login" in page.url  # no session: sent to the login form
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_url(re.compile(r".*/dashboard/?$"))
    return page


async def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


async def test_operators_run_the_platform_from_the_browser(
    chromium: Any, database_url: str, redis_url: str, redis_prefix: str
) -> None:
    async with job_world(
        database_url,
        redis_url,
        redis_prefix,
        serve=True,
        use_real_router=True,
        BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
    ) as world:
        assert world.base_url is not None
        pool = world.pool
        # The catalogue an operator starts from: a plan, a model group and an access group.
        await plans.create_plan(
            pool,
            ACTOR,
            PlanIn(name="Standard", kind="per_job", usd_micro_per_credit=10_000, credits_per_job=25),
        )
        await modelgroups.create_model_group(pool, ACTOR, ModelGroupIn(name=GROUP, router_model=ROUTER_MODEL))
        await modelgroups.create_access_group(pool, ACTOR, AccessGroupIn(name="chat", model_groups=[GROUP]))

        # --- admin: users and roles
        admin = await _login(chromium, world.base_url, ADMIN_EMAIL, ADMIN_PASSWORD)
        await admin.get_by_role("link", name="Users").click()
        for role in ("operator", "finance"):
            await admin.get_by_label("Email").fill(f"{role}@tollgate.test")
            await admin.get_by_label("Initial password").fill(PASSWORD)
            await admin.get_by_label("Role").select_option(role)
            await admin.get_by_role("button", name="Create operator").click()
            # the flash of the first creation is still on screen during the second: wait for the row
            await admin.locator("td", has_text=f"{role}@tollgate.test").first.wait_for()
        await _shot(admin, "users")

        # --- admin: providers and deployments, keys write-only
        await admin.get_by_role("link", name="Providers").click()
        await admin.wait_for_url(re.compile(r".*/dashboard/providers/?$"))
        await admin.locator("td", has_text=PROVIDER_NAME).first.wait_for()
        providers = await admin.content()
        assert PROVIDER_KEY not in providers
        assert "…" + PROVIDER_KEY[-4:] in providers
        assert ROUTER_MODEL in providers
        # health comes from the real router's /admin/deployments/health: no cooldown yet
        assert (
            await admin.locator("td", has_text=ROUTER_MODEL)
            .locator("xpath=..")
            .get_by_text("healthy")
            .count()
            == 1
        )
        await _shot(admin, "providers")

        # --- operator: organization, team, key
        op = await _login(chromium, world.base_url, "operator@tollgate.test", PASSWORD)
        await op.get_by_role("link", name="Organizations").click()
        await op.get_by_label("Name", exact=True).fill("Acme Corp")
        await op.get_by_role("button", name="Create organization").click()
        await op.get_by_role("heading", name=re.compile("Acme Corp")).wait_for()
        await op.get_by_role("link", name="New team").click()
        await op.get_by_label("Name", exact=True).fill("acme-support-bot")
        await op.get_by_label("Pricing plan").select_option(label="Standard (per_job)")
        await op.get_by_label("chat").check()
        await op.get_by_role("button", name="Create team and its first API key").click()
        api_key = await op.get_by_label("API key").input_value()
        assert api_key.startswith("tg")
        await _shot(op, "key-shown-once")
        await op.get_by_role("link", name="Done, back to the team").click()
        await op.wait_for_url(re.compile(r".*/dashboard/teams/[0-9a-f-]{36}$"))
        team_url = op.url
        team_id = uuid.UUID(team_url.rstrip("/").rsplit("/", 1)[1])
        assert api_key not in await op.content()  # shown once, never again
        team_headers = {"authorization": f"Bearer {api_key}"}

        # the key works with the job API, but the team has no credits yet
        refused = await world.client.post(
            "/api/jobs/create", json={"job_type": "triage"}, headers=team_headers
        )
        assert refused.status_code == 402, refused.text

        # --- operator: credits
        assert await op.locator("#credits-available").inner_text() == "0"
        await op.get_by_label("Movement").select_option("allocation")
        await op.get_by_label("Amount").fill("10,000")
        await op.get_by_label("Reason").fill("November contract")
        await op.get_by_role("button", name="Record").click()
        await op.get_by_text("Credits recorded.").wait_for()
        assert await op.locator("#credits-available").inner_text() == "10,000"
        await _shot(op, "team")

        # --- operator: a webhook endpoint for the team, its secret shown once
        await op.get_by_text("New webhook endpoint").click()
        await op.get_by_label("URL (https)").fill("https://hooks.example.com/acme")
        await op.get_by_role("button", name="Add endpoint").click()
        secret = await op.get_by_label("Signing secret").input_value()
        await op.get_by_role("link", name="Done, back to the endpoint").click()
        await op.locator("#webhook-state").wait_for()
        assert secret not in await op.content()

        # --- a job through the job API with the key from the dashboard
        job = await world.client.post("/api/jobs/create", json={"job_type": "triage"}, headers=team_headers)
        assert job.status_code in (200, 201), job.text
        job_id = job.json()["job_id"]
        world.fake.push(Behavior(content="billing", prompt_tokens=1200, completion_tokens=300))
        call = await world.client.post(
            f"/api/jobs/{job_id}/llm-call", json={"model": GROUP, "messages": MESSAGES}, headers=team_headers
        )
        assert call.status_code == 200, call.text
        done = await world.client.post(
            f"/api/jobs/{job_id}/complete", json={"status": "completed"}, headers=team_headers
        )
        assert done.status_code == 200, done.text
        async with pool.connection() as conn:  # what the aggregation worker does
            assert await usage.aggregate_job(conn, uuid.UUID(job_id))

        # --- operator: the job's detail and margin
        await op.get_by_role("link", name="Jobs", exact=True).click()
        await op.get_by_label("Team id").fill(str(team_id))
        await op.get_by_role("button", name="Search").click()
        await op.get_by_role("link", name=job_id[:8]).click()
        await op.locator("#job-margin").wait_for()
        # price: 25 credits at $0.01; cost: 1,200 in at $150/M + 300 out at $600/M = $0.36: a loss
        assert await op.locator("#job-price").inner_text() == "$0.25"
        assert await op.locator("#job-cost").inner_text() == "$0.36"
        assert await op.locator("#job-margin").inner_text() == "-$0.11"
        assert "1,200 in / 300 out" in await op.locator(".timeline").inner_text()
        await _shot(op, "job-detail")

        # --- operator: margin report and its CSV
        await op.get_by_role("link", name="Reports").click()
        await op.get_by_role("cell", name="acme-support-bot").wait_for()
        await _shot(op, "reports")
        async with op.expect_download() as download_info:
            await op.get_by_role("link", name="Export CSV").click()
        download = await download_info.value
        saved = await download.path()
        rows = list(csv.DictReader(io.StringIO(await anyio.Path(saved).read_text())))
        mine = [r for r in rows if str(team_id) in r.values()]
        assert len(mine) == 1, rows
        assert mine[0]["jobs"] == "1"
        assert mine[0]["revenue_micro_usd"] == "250000"
        assert mine[0]["cost_micro_usd"] == "360000"
        assert mine[0]["margin_micro_usd"] == "-110000"

        # --- overview with data
        await op.get_by_role("link", name="Overview").click()
        await op.get_by_role("link", name="acme-support-bot").first.wait_for()
        await op.wait_for_timeout(300)  # let Chart.js draw before the screenshot
        await _shot(op, "overview")

        # --- operator: what would a bigger job earn on this plan?
        await op.get_by_role("link", name="Models & plans").click()
        await op.get_by_label("Plan", exact=True).select_option(label="Standard (per_job)")
        await op.get_by_label("Provider cost (USD)").fill("0.05")
        await op.get_by_role("button", name="Calculate").click()
        await op.locator("#quote-margin").wait_for()
        assert (await op.locator("#quote-margin").inner_text()).startswith("$0.20")
        await _shot(op, "catalog-calculator")

        # --- operator: suspend the team; its next job is refused
        await op.goto(team_url)
        await op.get_by_role("button", name="Suspend").click()
        await op.get_by_text("Status changed.").wait_for()
        assert await op.locator("#team-status").inner_text() == "suspended"
        refused = await world.client.post(
            "/api/jobs/create", json={"job_type": "triage"}, headers=team_headers
        )
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("team-not-active")

        # --- finance: reads everything, changes nothing
        fin = await _login(chromium, world.base_url, "finance@tollgate.test", PASSWORD)
        await fin.goto(team_url)
        await fin.get_by_text("Read-only").wait_for()
        assert await fin.get_by_role("button", name="Record").count() == 0
        assert await fin.get_by_role("button", name="Resume").count() == 0
        assert await fin.get_by_role("button", name="Issue key").count() == 0
        assert await fin.get_by_role("link", name="Users").count() == 0
        await _shot(fin, "team-finance")
        csrf = await fin.locator('input[name="_csrf"]').first.input_value()
        for action, form in (
            ("credits", {"kind": "allocation", "amount": "5", "reason": "x", "idempotency_key": "fin-1"}),
            ("status/resume", {}),
            ("keys", {"name": "finance-key"}),
        ):
            response = await fin.request.post(f"{team_url}/{action}", form={"_csrf": csrf, **form})
            assert response.status == 403, action
        forbidden = await fin.request.get("/dashboard/users")
        assert forbidden.status == 403
        await fin.goto(team_url)
        assert (
            await fin.locator("#credits-available").inner_text() == "9,975"
        )  # 10,000 - the job's 25, nothing more
