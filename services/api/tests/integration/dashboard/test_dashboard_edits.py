"""Edit forms for organizations, pricing plans, model groups and access groups, and the full
new-team form: each change goes through the /admin service (audited, router access re-synced),
finance can neither open an edit form nor post one, and bad values get a 4xx page."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tollgate_api.modelgroups import service as modelgroups
from tollgate_api.modelgroups.schemas import AccessGroupIn, ModelGroupIn
from tollgate_api.organizations import service as organizations
from tollgate_api.plans import service as plans
from tollgate_api.plans.schemas import PlanIn
from tollgate_api.teams import service as teams
from tollgate_api.teams.schemas import TeamIn


async def test_operator_renames_and_disables_an_organization(dashboard: Any) -> None:
    async with dashboard() as dash:
        org = await dash.world.organization("Before Ltd")
        client = await dash.browser("operator")
        url = f"/dashboard/organizations/{org.id}"
        saved = await dash.submit(client, url, url, name="After Ltd", status="disabled")
        assert saved.status_code == 303
        page = (await client.get(url)).text
        assert "<h1>After Ltd" in page
        assert 'class="badge status-disabled">disabled<' in page
        stored = await organizations.get_organization(dash.world.pool, org.id)
        assert (stored.name, stored.status) == ("After Ltd", "disabled")
        assert "organization.update" in (await client.get(f"/dashboard/audit?target_id={org.id}")).text
        bad = await dash.submit(client, url, url, name="x", status="deleted")
        assert bad.status_code == 400


async def test_operator_edits_a_plan_and_keeps_its_prices_by_job_type(dashboard: Any) -> None:
    async with dashboard() as dash:
        plan = await plans.create_plan(
            dash.world.pool,
            dash.world.actor,
            PlanIn(
                name="starter",
                kind="per_job",
                usd_micro_per_credit=10_000,
                credits_per_job=10,
                per_job_type={"summarize": 4},
            ),
        )
        client = await dash.browser("operator")
        catalog = (await client.get("/dashboard/catalog")).text
        assert f'href="/dashboard/catalog/plans/{plan.id}"' in catalog
        url = f"/dashboard/catalog/plans/{plan.id}"
        form = (await client.get(url)).text
        assert 'value="10"' in form  # pre-filled with the current terms
        saved = await dash.submit(
            client,
            url,
            url,
            name="starter-2",
            kind="per_job",
            usd_micro_per_credit="12000",
            credits_per_job="7",
            failed_job_policy="provider_cost",
        )
        assert saved.status_code == 303
        stored = await plans.get_plan(dash.world.pool, plan.id)
        assert (stored.name, stored.credits_per_job, stored.usd_micro_per_credit) == ("starter-2", 7, 12_000)
        assert stored.failed_job_policy == "provider_cost"
        assert stored.per_job_type == {"summarize": 4}
        bad = await dash.submit(client, url, url, name="x", kind="free", usd_micro_per_credit="1")
        assert bad.status_code == 400


async def test_editing_groups_updates_them_and_the_router_keys_of_teams_using_them(
    dashboard: Any, fake_router: Any
) -> None:
    async with dashboard() as dash:
        pool, actor = dash.world.pool, dash.world.actor
        fast = await modelgroups.create_model_group(
            pool, actor, ModelGroupIn(name="fast", router_model="gpt-a")
        )
        await modelgroups.create_model_group(pool, actor, ModelGroupIn(name="smart", router_model="gpt-s"))
        access = await modelgroups.create_access_group(
            pool, actor, AccessGroupIn(name="basic", model_groups=["fast"])
        )
        plan = await dash.world.plan()
        org = await dash.world.organization()
        team = await teams.create_team(
            pool,
            dash.app.state["router_admin"],
            dash.app.state["keyring"],
            actor,
            TeamIn(
                organization_id=org.id, name="grouped", pricing_plan_id=plan.id, access_groups=[access.id]
            ),
        )
        client = await dash.browser("operator")

        mg_url = f"/dashboard/catalog/model-groups/{fast.id}"
        saved = await dash.submit(
            client,
            mg_url,
            mg_url,
            name="fast",
            router_model="gpt-b",
            fallbacks="gpt-c, gpt-d",
            description="quick",
        )
        assert saved.status_code == 303
        group = await modelgroups.get_model_group(pool, fast.id)
        assert (group.router_model, group.fallbacks, group.description) == (
            "gpt-b",
            ["gpt-c", "gpt-d"],
            "quick",
        )
        assert "gpt-b" in fake_router.key_of_team(team.team_id)["allowed_models"]

        ag_url = f"/dashboard/catalog/access-groups/{access.id}"
        assert re.search(r'value="fast" checked', (await client.get(ag_url)).text)
        saved = await dash.submit(client, ag_url, ag_url, name="basic+", model_groups=["fast", "smart"])
        assert saved.status_code == 303
        stored = await modelgroups.get_access_group(pool, access.id)
        assert (stored.name, sorted(stored.model_groups)) == ("basic+", ["fast", "smart"])
        assert "gpt-s" in fake_router.key_of_team(team.team_id)["allowed_models"]
        unknown = await dash.submit(client, ag_url, ag_url, name="basic", model_groups=["nope"])
        assert 400 <= unknown.status_code < 500


async def test_finance_cannot_open_or_post_edit_forms(dashboard: Any) -> None:
    async with dashboard() as dash:
        pool, actor = dash.world.pool, dash.world.actor
        plan = await dash.world.plan()
        org = await dash.world.organization("Kept")
        group = await modelgroups.create_model_group(pool, actor, ModelGroupIn(name="mg", router_model="m"))
        access = await modelgroups.create_access_group(pool, actor, AccessGroupIn(name="ag"))
        finance = await dash.browser("finance")
        catalog = (await finance.get("/dashboard/catalog")).text
        assert "/dashboard/catalog/plans/" not in catalog
        org_page = (await finance.get(f"/dashboard/organizations/{org.id}")).text
        assert f'action="/dashboard/organizations/{org.id}"' not in org_page
        token = dash.csrf_of(org_page)
        targets = {
            f"/dashboard/organizations/{org.id}": {"name": "Taken", "status": "disabled"},
            f"/dashboard/catalog/plans/{plan.id}": {
                "name": "x",
                "kind": "per_job",
                "usd_micro_per_credit": "1",
            },
            f"/dashboard/catalog/model-groups/{group.id}": {"name": "mg", "router_model": "other"},
            f"/dashboard/catalog/access-groups/{access.id}": {"name": "renamed"},
        }
        for url, fields in targets.items():
            if "/catalog/" in url:
                assert (await finance.get(url)).status_code == 403, url
            refused = await finance.post(url, data={"_csrf": token, **fields})
            assert refused.status_code == 403, (url, refused.status_code)
        assert (await organizations.get_organization(pool, org.id)).name == "Kept"
        assert (await modelgroups.get_model_group(pool, group.id)).router_model == "m"


async def test_new_team_form_sets_limits_ttl_privacy_and_retention(dashboard: Any) -> None:
    async with dashboard() as dash:
        plan = await dash.world.plan()
        org = await dash.world.organization()
        client = await dash.browser("operator")
        new_url = f"/dashboard/teams/new?organization_id={org.id}"
        common = {"organization_id": str(org.id), "pricing_plan_id": str(plan.id), "overdraft_limit": "0"}
        created = await dash.submit(
            client,
            new_url,
            "/dashboard/teams",
            **common,
            name="configured",
            rpm="60",
            tpm="90000",
            job_ttl_s="600",
            retention_days="7",
            show_tokens="true",
            store_prompts="true",
            key_name="ci",
        )
        assert created.status_code == 200, created.text[:500]
        match = re.search(r'href="/dashboard/teams/([0-9a-f-]{36})"', created.text)
        assert match
        team = await teams.get_team(dash.world.pool, uuid.UUID(match.group(1)))
        assert (team.rpm, team.tpm, team.job_ttl_s, team.retention_days) == (60, 90_000, 600, 7)
        assert team.show_tokens is True
        assert team.store_prompts is True
        assert "ci" in (await client.get(f"/dashboard/teams/{team.id}")).text

        plain = await dash.submit(client, new_url, "/dashboard/teams", **common, name="defaults")
        assert plain.status_code == 200
        match = re.search(r'href="/dashboard/teams/([0-9a-f-]{36})"', plain.text)
        assert match
        defaults = await teams.get_team(dash.world.pool, uuid.UUID(match.group(1)))
        assert (defaults.show_tokens, defaults.store_prompts, defaults.retention_days) == (False, False, 30)
        assert defaults.job_ttl_s == 3600

        for bad in ({"job_ttl_s": "5"}, {"retention_days": "-1"}, {"tpm": "0"}):
            refused = await dash.submit(client, new_url, "/dashboard/teams", **common, name="bad", **bad)
            assert refused.status_code == 400, (bad, refused.status_code)
