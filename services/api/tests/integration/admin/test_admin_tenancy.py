"""The tenancy admin API: organizations, plans, teams with their router keys, model and access
groups, grants, audit log — and no secret in any response."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Litestar

from tollgate_api.auth.keyring import virtual_key_aad
from tollgate_api.errors import UnknownModelGroup
from tollgate_api.modelgroups import service as modelgroups
from tollgate_common.crypto import Keyring
from tollgate_common.db import connection


async def test_creating_a_team_creates_its_router_key_stored_encrypted(
    api_app: Litestar, pool: Any, admin: Any, tenancy: Any, fake_router: Any
) -> None:
    chat = await tenancy.model_group("chat-fast", router_model="gpt-x", fallbacks=["claude-y"])
    docs = await tenancy.model_group("doc-analyzer", router_model="big-z")
    bundle = await tenancy.access_group([chat["name"], docs["name"]])
    team = await tenancy.team(access_groups=[bundle["id"]], rpm=60, tpm=10_000)

    assert team["team_id"] == team["id"]
    assert team["api_key"].startswith("tg_live_")
    router_key = fake_router.key_of_team(team["id"])
    assert router_key["allowed_models"] == ["big-z", "claude-y", "gpt-x"]
    assert (router_key["rpm"], router_key["tpm"]) == (60, 10_000)

    async with connection(pool) as conn:
        cur = await conn.execute("SELECT virtual_key_encrypted FROM api.teams WHERE id = %s", (team["id"],))
        row = await cur.fetchone()
    assert row is not None
    stored = row[0]
    assert router_key["secret"] not in stored
    keyring: Keyring = api_app.state["keyring"]
    assert keyring.decrypt(stored, associated=virtual_key_aad(team["id"])) == router_key["secret"]

    shown = (await admin.get(f"/admin/teams/{team['id']}")).json()
    assert shown["credits"] == {"balance": 0, "held": 0, "available": 0}
    assert "api_key" not in shown
    everything = (
        str(shown)
        + str((await admin.get("/admin/teams")).json())
        + str((await admin.get("/admin/audit-log")).json())
    )
    assert router_key["secret"] not in everything
    assert team["api_key"] not in everything


async def test_model_groups_resolve_only_when_granted_and_reveal_nothing(
    api_app: Litestar, pool: Any, tenancy: Any, admin: Any, fake_router: Any
) -> None:
    granted = await tenancy.model_group(router_model="m-granted")
    other = await tenancy.model_group(router_model="m-other")
    bundle = await tenancy.access_group([granted["name"]])
    team = await tenancy.team(access_groups=[bundle["id"]])
    team_id = uuid.UUID(team["id"])

    resolved = await modelgroups.resolve_for_team(pool, team_id, granted["name"])
    assert (resolved.name, resolved.router_model) == (granted["name"], "m-granted")

    errors = []
    for name in (other["name"], "does-not-exist"):
        try:
            await modelgroups.resolve_for_team(pool, team_id, name)
        except UnknownModelGroup as exc:
            errors.append((exc.status, exc.slug, exc.detail))
    assert errors == [(404, "unknown-model-group", "unknown model group")] * 2

    # Revoking the grant: the router key narrows and resolution stops.
    revoke = await admin.delete(f"/admin/teams/{team_id}/access-groups/{bundle['id']}")
    assert revoke.status_code == 204
    assert fake_router.key_of_team(team_id)["allowed_models"] == []
    try:
        await modelgroups.resolve_for_team(pool, team_id, granted["name"])
        raise AssertionError("resolved after revoke")
    except UnknownModelGroup:
        pass


async def test_changing_a_granted_model_group_updates_the_router_key(
    tenancy: Any, admin: Any, fake_router: Any
) -> None:
    group = await tenancy.model_group(router_model="old-model")
    bundle = await tenancy.access_group([group["name"]])
    team = await tenancy.team(access_groups=[bundle["id"]])
    other_team = await tenancy.team()

    updated = await admin.put(
        f"/admin/model-groups/{group['id']}",
        json={"name": group["name"], "router_model": "new-model", "fallbacks": ["spare-model"]},
    )
    assert updated.status_code == 200

    assert fake_router.key_of_team(team["id"])["allowed_models"] == ["new-model", "spare-model"]
    assert fake_router.key_of_team(other_team["id"])["allowed_models"] == []

    grants = await admin.get(f"/admin/teams/{other_team['id']}/access-groups")
    assert grants.json() == []
    granted = await admin.post(
        f"/admin/teams/{other_team['id']}/access-groups", json={"access_group_id": bundle["id"]}
    )
    assert [g["name"] for g in granted.json()] == [bundle["name"]]
    assert fake_router.key_of_team(other_team["id"])["allowed_models"] == ["new-model", "spare-model"]


async def test_router_outage_during_sync_is_logged_not_fatal(
    tenancy: Any, admin: Any, fake_router: Any
) -> None:
    group = await tenancy.model_group(router_model="a")
    bundle = await tenancy.access_group([group["name"]])
    team = await tenancy.team(access_groups=[bundle["id"]])
    fake_router.fail = True
    changed = await admin.put(
        f"/admin/model-groups/{group['id']}", json={"name": group["name"], "router_model": "b"}
    )
    assert changed.status_code == 200
    assert fake_router.key_of_team(team["id"])["allowed_models"] == ["a"]  # stale until repaired
    assert (await admin.post(f"/admin/teams/{team['id']}/sync-router-key")).status_code == 503
    fake_router.fail = False
    assert (await admin.post(f"/admin/teams/{team['id']}/sync-router-key")).status_code == 204
    assert fake_router.key_of_team(team["id"])["allowed_models"] == ["b"]


async def test_team_creation_fails_cleanly_when_the_router_is_down(
    tenancy: Any, admin: Any, fake_router: Any
) -> None:
    org = await tenancy.organization()
    plan = await tenancy.plan()
    fake_router.fail = True
    response = await admin.post(
        "/admin/teams", json={"organization_id": org["id"], "name": "t", "pricing_plan_id": plan["id"]}
    )
    assert response.status_code == 503
    assert response.json()["type"].endswith("/router-unavailable")
    assert (await admin.get("/admin/teams")).json() == []


async def test_team_lifecycle_and_settings(tenancy: Any, admin: Any, fake_router: Any) -> None:
    team = await tenancy.team(credits=100, overdraft_limit=0)
    team_id = team["id"]
    other_plan = await tenancy.plan(kind="consumption_tokens", tokens_per_credit=1000, max_hold_credits=50)

    patched = await admin.patch(
        f"/admin/teams/{team_id}",
        json={"pricing_plan_id": other_plan["id"], "overdraft_limit": 25, "rpm": 5, "store_prompts": True},
    )
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert (body["pricing_plan_id"], body["overdraft_limit"], body["rpm"], body["store_prompts"]) == (
        other_plan["id"],
        25,
        5,
        True,
    )
    assert body["credits"] == {"balance": 100, "held": 0, "available": 125}
    assert fake_router.key_of_team(team_id)["rpm"] == 5

    assert (await admin.post(f"/admin/teams/{team_id}/pause")).json()["status"] == "paused"
    assert (await admin.post(f"/admin/teams/{team_id}/suspend")).json()["status"] == "suspended"
    refused = await admin.post(f"/admin/teams/{team_id}/pause")
    assert refused.status_code == 409
    assert (await admin.post(f"/admin/teams/{team_id}/resume")).json()["status"] == "active"

    missing = await admin.get(f"/admin/teams/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["type"].endswith("/team-not-found")


async def test_pricing_plans_are_validated_and_protected_while_in_use(tenancy: Any, admin: Any) -> None:
    bad = await admin.post(
        "/admin/pricing-plans",
        json={"name": "bad", "kind": "consumption_usd", "usd_micro_per_credit": 10_000, "credits_per_usd": 0},
    )
    assert bad.status_code == 400
    assert bad.json()["type"].endswith("/invalid-plan")
    plan = await tenancy.plan(per_job_type={"summarize": 3})
    assert plan["per_job_type"] == {"summarize": 3}
    await tenancy.team(plan=plan)
    in_use = await admin.delete(f"/admin/pricing-plans/{plan['id']}")
    assert in_use.status_code == 409
    unused = await tenancy.plan()
    assert (await admin.delete(f"/admin/pricing-plans/{unused['id']}")).status_code == 204
    names = [p["name"] for p in (await admin.get("/admin/pricing-plans")).json()]
    assert plan["name"] in names
    assert unused["name"] not in names


async def test_organizations_crud(tenancy: Any, admin: Any) -> None:
    org = await tenancy.organization("Acme")
    duplicate = await admin.post("/admin/organizations", json={"name": "Acme"})
    assert duplicate.status_code == 409
    patched = await admin.patch(f"/admin/organizations/{org['id']}", json={"metadata": {"tier": "gold"}})
    assert patched.json()["metadata"] == {"tier": "gold"}
    assert patched.json()["name"] == "Acme"
    assert [o["name"] for o in (await admin.get("/admin/organizations")).json()] == ["Acme"]


async def test_every_mutation_is_audited_with_actor_ip_and_no_secrets(tenancy: Any, admin: Any) -> None:
    team = await tenancy.team(credits=5)
    await admin.post(f"/admin/teams/{team['id']}/keys", json={"name": "second"})
    await admin.post(f"/admin/teams/{team['id']}/pause")
    entries = (await admin.get("/admin/audit-log", params={"limit": 100})).json()
    actions = [e["action"] for e in entries]
    for expected in (
        "organization.create",
        "pricing_plan.create",
        "team.create",
        "credits.allocation",
        "team_key.issue",
        "team.pause",
        "operator.bootstrap",
        "operator.login",
    ):
        assert expected in actions, expected
    team_entry = next(e for e in entries if e["action"] == "team.create")
    assert team_entry["actor"] == "operator:admin@example.test"
    assert team_entry["ip"]
    assert team_entry["after"]["team"]["name"] == team["name"]
    assert team["api_key"] not in str(entries)
    assert "key_hash" not in str(entries)
    paused = next(e for e in entries if e["action"] == "team.pause")
    assert (paused["before"], paused["after"]) == ({"status": "active"}, {"status": "paused"})
