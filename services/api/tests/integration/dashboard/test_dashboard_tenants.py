"""Organizations and teams through the dashboard: the operator's whole flow, the finance role's
read-only view (no controls, and 403 on every mutation route whatever the UI shows), CSRF on
every form, and keyset pages."""

from __future__ import annotations

import re
import uuid
from typing import Any

from tollgate_api.organizations import service as organizations
from tollgate_api.teams import service as teams

TEAM_LINK = re.compile(r'href="/dashboard/teams/([0-9a-f-]{36})"')


async def _create_team(dash: Any, client: Any, org_id: object, plan_id: object, name: str) -> str:
    response = await dash.submit(
        client,
        f"/dashboard/teams/new?organization_id={org_id}",
        "/dashboard/teams",
        organization_id=str(org_id),
        pricing_plan_id=str(plan_id),
        name=name,
        overdraft_limit="0",
    )
    assert response.status_code == 200, response.text
    assert "shown once" in response.text
    api_key = re.search(r'id="api-key"[^>]*value="([^"]+)"', response.text)
    assert api_key
    assert api_key.group(1).startswith("tg")
    match = re.search(r'href="/dashboard/teams/([0-9a-f-]{36})"', response.text)
    assert match
    return match.group(1)


async def test_operator_creates_an_org_and_a_team_allocates_credits_and_suspends_it(dashboard: Any) -> None:
    async with dashboard() as dash:
        plan = await dash.world.plan()
        client = await dash.browser("operator")
        created = await dash.submit(
            client, "/dashboard/organizations", "/dashboard/organizations", name="Acme"
        )
        assert created.status_code == 303
        org_url = created.headers["location"].split("?")[0]
        org_id = org_url.rsplit("/", 1)[1]
        assert "Acme" in (await client.get(org_url)).text

        team_id = await _create_team(dash, client, org_id, plan.id, "acme-bot")
        team_url = f"/dashboard/teams/{team_id}"
        moved = await dash.submit(
            client, team_url, f"{team_url}/credits", kind="allocation", amount="12,500", reason="November"
        )
        assert moved.status_code == 303
        page = (await client.get(team_url)).text
        assert re.search(r'id="credits-available"[^>]*>12,500<', page)
        assert "November" in page  # the ledger row

        suspended = await dash.submit(client, team_url, f"{team_url}/status/suspend")
        assert suspended.status_code == 303
        page = (await client.get(team_url)).text
        assert 'id="team-status">suspended<' in page
        assert f"{team_url}/status/resume" in page

        listing = (await client.get("/dashboard/teams?status=suspended&q=acme")).text
        assert team_id in listing
        assert "12,500" in listing
        audit = (await client.get(f"/dashboard/audit?target_type=team&target_id={team_id}")).text
        assert "team.suspend" in audit
        assert "operator-" in audit


async def test_finance_sees_pages_without_controls_and_every_mutation_is_refused(dashboard: Any) -> None:
    async with dashboard() as dash:
        plan = await dash.world.plan()
        admin = await dash.browser("admin")
        org = await dash.world.organization()
        team_id = await _create_team(dash, admin, org.id, plan.id, "finance-view")
        team_url = f"/dashboard/teams/{team_id}"

        finance = await dash.browser("finance")
        page = await finance.get(team_url)
        assert page.status_code == 200
        assert "Read-only" in page.text
        for control in ("/credits", "/status/", '/keys"', "/settings", "/rotate", "/revoke"):
            assert f'action="{team_url}{control}' not in page.text, control
        assert (
            'method="post" action="/dashboard/organizations"'
            not in (await finance.get("/dashboard/organizations")).text
        )
        assert (await finance.get("/dashboard/users")).status_code == 403

        token = dash.csrf_of(page.text)  # a valid token: only the role stands in the way
        keys = await teams.get_team(dash.world.pool, uuid.UUID(team_id))
        attempts = {
            f"{team_url}/credits": {
                "kind": "allocation",
                "amount": "100",
                "reason": "x",
                "idempotency_key": "f1",
            },
            f"{team_url}/status/suspend": {},
            f"{team_url}/keys": {"name": "sneaky"},
            f"{team_url}/settings": {
                "pricing_plan_id": str(plan.id),
                "overdraft_limit": "5",
                "retention_days": "1",
            },
            "/dashboard/organizations": {"name": "finance-org"},
            "/dashboard/teams": {
                "organization_id": str(org.id),
                "pricing_plan_id": str(plan.id),
                "name": "t",
            },
            "/dashboard/users": {
                "email": "x@example.test",
                "password": "a long enough passphrase",
                "role": "admin",
            },
        }
        for url, fields in attempts.items():
            response = await finance.post(url, data={"_csrf": token, **fields})
            assert response.status_code == 403, (url, response.status_code)
        after = await teams.get_team(dash.world.pool, uuid.UUID(team_id))
        assert after == keys  # nothing changed: no credits, same status and settings
        # and finance may still log out (its own session)
        assert (await finance.post("/dashboard/logout", data={"_csrf": token})).status_code == 303


async def test_mutations_without_a_valid_csrf_token_are_refused(dashboard: Any) -> None:
    async with dashboard() as dash:
        plan = await dash.world.plan()
        client = await dash.browser("admin")
        org = await dash.world.organization()
        team_id = await _create_team(dash, client, org.id, plan.id, "csrf")
        url = f"/dashboard/teams/{team_id}/credits"
        fields = {"kind": "allocation", "amount": "100", "reason": "forged", "idempotency_key": "forged-1"}
        missing = await client.post(url, data=fields)
        assert missing.status_code == 403
        forged = await client.post(url, data={"_csrf": "0" * 64, **fields})
        assert forged.status_code == 403
        other = await dash.browser("admin")  # a token from another session does not fit this one
        stolen = dash.csrf_of((await other.get("/dashboard/")).text)
        assert (await client.post(url, data={"_csrf": stolen, **fields})).status_code == 403
        balance = await teams.get_team(dash.world.pool, uuid.UUID(team_id))
        assert balance.credits is not None
        assert balance.credits.balance == 0
        # the header form works too (HTMX requests)
        ok_token = dash.csrf_of((await client.get(f"/dashboard/teams/{team_id}")).text)
        ok = await client.post(url, data=fields, headers={"X-CSRF-Token": ok_token})
        assert ok.status_code == 303


async def test_team_keys_issue_rotate_and_revoke_show_the_secret_once(dashboard: Any) -> None:
    async with dashboard() as dash:
        plan = await dash.world.plan()
        client = await dash.browser("operator")
        org = await dash.world.organization()
        team_id = await _create_team(dash, client, org.id, plan.id, "keys")
        team_url = f"/dashboard/teams/{team_id}"
        issued = await dash.submit(client, team_url, f"{team_url}/keys", name="staging")
        secret = re.search(r'id="api-key"[^>]*value="([^"]+)"', issued.text)
        assert secret
        page = (await client.get(team_url)).text
        assert secret.group(1) not in page  # never again
        assert "…" + secret.group(1)[-4:] in page  # only the last four
        key_ids = re.findall(rf"{team_url}/keys/([0-9a-f-]{{36}})/revoke", page)
        assert len(key_ids) == 2
        rotated = await dash.submit(client, team_url, f"{team_url}/keys/{key_ids[0]}/rotate", grace_s="0")
        assert "shown once" in rotated.text
        revoked = await dash.submit(client, team_url, f"{team_url}/keys/{key_ids[1]}/revoke")
        assert revoked.status_code == 303
        page = (await client.get(team_url)).text
        assert page.count("revoked ") >= 2


async def test_team_list_pages_by_keyset_and_filters(dashboard: Any) -> None:
    async with dashboard() as dash:
        plan = await dash.world.plan()
        client = await dash.browser("admin")
        org = await dash.world.organization()
        for name in ("page-a", "page-b", "page-c"):
            await _create_team(dash, client, org.id, plan.id, name)
        first = await teams.team_page(dash.world.pool, organization_id=org.id, limit=2)
        assert [t.name for t in first.teams] == ["page-a", "page-b"]
        assert first.next_after is not None
        second = await teams.team_page(
            dash.world.pool, organization_id=org.id, after=first.next_after, limit=2
        )
        assert [t.name for t in second.teams] == ["page-c"]
        assert second.next_after is None
        assert [t.name for t in (await teams.team_page(dash.world.pool, name_contains="e-b")).teams] == [
            "page-b"
        ]
        # LIKE wildcards in the filter are literal
        assert (await teams.team_page(dash.world.pool, name_contains="%")).teams == []
        for name in ("zz-org-b", "zz-org_c", "zz-org-a"):
            await dash.world.organization(name)
        orgs, after = await organizations.organization_page(dash.world.pool, name_contains="zz-org", limit=2)
        assert [o.name for o in orgs] == ["zz-org-a", "zz-org-b"]
        assert after is not None
        orgs, after = await organizations.organization_page(
            dash.world.pool, name_contains="zz-org", after=after
        )
        assert [o.name for o in orgs] == ["zz-org_c"]
        assert after is None
        assert [
            o.name for o in (await organizations.organization_page(dash.world.pool, name_contains="org_"))[0]
        ] == ["zz-org_c"]
        bad = await client.get("/dashboard/teams?status=bogus")
        assert bad.status_code == 400
        assert "Unknown team status" in bad.text


async def test_access_groups_are_granted_and_revoked_from_the_team_page(
    dashboard: Any, fake_router: Any
) -> None:
    async with dashboard() as dash:
        plan = await dash.world.plan()
        client = await dash.browser("operator")
        await dash.submit(
            client, "/dashboard/catalog", "/dashboard/catalog/model-groups", name="mg", router_model="m-1"
        )
        await dash.submit(
            client, "/dashboard/catalog", "/dashboard/catalog/access-groups", name="ag-one", model_groups="mg"
        )
        org = await dash.world.organization()
        team_id = await _create_team(dash, client, org.id, plan.id, "grants")
        team_url = f"/dashboard/teams/{team_id}"
        page = (await client.get(team_url)).text
        group_id = re.search(r'<option value="([0-9a-f-]{36})">ag-one', page)
        assert group_id
        granted = await dash.submit(
            client, team_url, f"{team_url}/access-groups", access_group_id=group_id.group(1)
        )
        assert granted.status_code == 303
        assert fake_router.key_of_team(team_id)["allowed_models"] == ["m-1"]  # pushed to the router
        revoke = f"{team_url}/access-groups/{group_id.group(1)}/revoke"
        assert (await dash.submit(client, team_url, revoke)).status_code == 303
        assert fake_router.key_of_team(team_id)["allowed_models"] == []
        assert "None: the team can call no model." in (await client.get(team_url)).text
