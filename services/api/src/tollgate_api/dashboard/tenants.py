"""Organizations and teams: lists with filters and keyset pages, team detail with status actions,
credits, ledger, API keys and settings. Every action calls the same service as ``/admin``."""

from __future__ import annotations

import secrets
import uuid
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery

from tollgate_api.auth.deps import keyring_of, pool_of, revocations_of, router_admin_of, settings_of
from tollgate_api.auth.guards import actor_of
from tollgate_api.credits import service as credits
from tollgate_api.credits.service import OPERATOR_KINDS
from tollgate_api.dashboard import helpers, overview, web
from tollgate_api.dashboard.catalog import convert
from tollgate_api.errors import BadRequest
from tollgate_api.keys import service as keys
from tollgate_api.modelgroups import service as modelgroups
from tollgate_api.organizations import service as organizations
from tollgate_api.organizations.schemas import OrganizationIn, OrganizationPatch
from tollgate_api.plans import service as plans
from tollgate_api.teams import service as teams
from tollgate_api.teams.schemas import TeamIn, TeamPatch
from tollgate_api.webhooks import service as webhooks
from tollgate_api.webhooks.events import EVENT_TYPES

PAGE: Final = 50
LEDGER_PAGE: Final = 25
_FLASH: Final = {
    "created": "Created.",
    "credits": "Credits recorded.",
    "status": "Status changed.",
    "revoked": "Key revoked.",
    "saved": "Settings saved.",
    "granted": "Access group granted.",
    "ungranted": "Access group revoked.",
    "webhook_deleted": "Webhook endpoint deleted.",
}
_ACTIONS: Final = ("pause", "suspend", "resume")
_ORG_STATUSES: Final = ("active", "disabled")


def _flash(done: str | None) -> str | None:
    return _FLASH.get(done or "")


class OrganizationsPages(Controller):
    path = web.PREFIX + "/organizations"

    @get("/")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        q: FromQuery[str | None] = None,
        after: FromQuery[str | None] = None,
    ) -> Response[Any]:
        orgs, next_after = await organizations.organization_page(
            pool_of(request), name_contains=q or None, after=helpers.decode_after(after), limit=PAGE
        )
        return web.page(
            request,
            "organizations/list.html",
            orgs=orgs,
            q=q or "",
            next_after=helpers.encode_after(*next_after) if next_after else None,
        )

    @post("/")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        out = await organizations.create_organization(
            pool_of(request), actor_of(request), OrganizationIn(name=web.text(form, "name", max_len=200))
        )
        return web.see_other(f"{web.PREFIX}/organizations/{out.id}?done=created")

    @get("/{org_id:uuid}")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        org_id: FromPath[uuid.UUID],
        after: FromQuery[str | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Response[Any]:
        pool = pool_of(request)
        org = await organizations.get_organization(pool, org_id)
        team_page = await teams.team_page(
            pool, organization_id=org_id, after=helpers.decode_after(after), limit=PAGE
        )
        days, rows = await overview.usage_by_day(pool, web.tz_of(request), organization_id=org_id)
        return web.page(
            request,
            "organizations/detail.html",
            org=org,
            totals=overview.summed("Last 30 days", rows),
            money_chart=overview.as_json(overview.daily_series(rows, days)),
            teams=team_page.teams,
            next_after=helpers.encode_after(*team_page.next_after) if team_page.next_after else None,
            statuses=_ORG_STATUSES,
            flash=_flash(done),
        )

    @post("/{org_id:uuid}")
    async def save(self, request: Request[Any, Any, Any], org_id: FromPath[uuid.UUID]) -> Response[Any]:
        """Rename or disable/re-enable (``PATCH /admin/organizations/{id}``); metadata is kept."""
        form = await request.form()
        status = web.text(form, "status")
        if status not in _ORG_STATUSES:
            raise BadRequest("Status must be active or disabled.")
        await organizations.update_organization(
            pool_of(request),
            revocations_of(request),
            actor_of(request),
            org_id,
            OrganizationPatch(name=web.text(form, "name", max_len=200), status=status),  # type: ignore[arg-type]  # checked above
        )
        return web.see_other(f"{web.PREFIX}/organizations/{org_id}?done=saved")


class TeamsPages(Controller):
    path = web.PREFIX + "/teams"

    @get("/")
    async def list_page(
        self,
        request: Request[Any, Any, Any],
        q: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        organization_id: FromQuery[str | None] = None,
        after: FromQuery[str | None] = None,
    ) -> Response[Any]:
        page = await teams.team_page(
            pool_of(request),
            organization_id=helpers.parse_uuid(organization_id),
            status=status or None,
            name_contains=q or None,
            after=helpers.decode_after(after),
            limit=PAGE,
        )
        filters = {"q": q or "", "status": status or "", "organization_id": organization_id or ""}
        return web.page(
            request,
            "teams/list.html",
            teams=page.teams,
            filters=filters,
            next_after=helpers.encode_after(*page.next_after) if page.next_after else None,
        )

    @get("/new")
    async def new_form(
        self, request: Request[Any, Any, Any], organization_id: FromQuery[str | None] = None
    ) -> Response[Any]:
        pool = pool_of(request)
        return web.page(
            request,
            "teams/new.html",
            orgs=await organizations.list_organizations(pool, limit=1000),
            plans=await plans.list_plans(pool),
            access_groups=await modelgroups.list_access_groups(pool),
            organization_id=organization_id or "",
            default_job_ttl_s=settings_of(request).jobs.default_ttl_s,
        )

    @post("/")
    async def create(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        org_id = helpers.parse_uuid(web.text(form, "organization_id"))
        plan_id = helpers.parse_uuid(web.text(form, "pricing_plan_id"))
        if org_id is None or plan_id is None:
            raise BadRequest("Choose an organization and a pricing plan.")
        groups = [g for g in (helpers.parse_uuid(v) for v in form.getall("access_groups", [])) if g]
        fields: dict[str, Any] = {
            "organization_id": org_id,
            "name": web.text(form, "name", max_len=200),
            "pricing_plan_id": plan_id,
            "rpm": web.integer(form, "rpm", required=False, minimum=1),
            "tpm": web.integer(form, "tpm", required=False, minimum=1),
            "overdraft_limit": web.integer(form, "overdraft_limit", required=False, minimum=0) or 0,
            "job_ttl_s": web.integer(form, "job_ttl_s", required=False, minimum=1),
            "show_tokens": form.get("show_tokens") == "true",
            "store_prompts": form.get("store_prompts") == "true",
            "access_groups": groups,
            "key_name": web.text(form, "key_name", required=False, max_len=200) or "default",
        }
        retention_days = web.integer(form, "retention_days", required=False, minimum=0)
        if retention_days is not None:
            fields["retention_days"] = retention_days
        data = convert(fields, TeamIn)
        created = await teams.create_team(
            pool_of(request),
            router_admin_of(request),
            keyring_of(request),
            actor_of(request),
            data,
            default_job_ttl_s=settings_of(request).jobs.default_ttl_s,
        )
        return web.page(
            request,
            "teams/key_issued.html",
            team_id=created.team_id,
            team_name=created.name,
            api_key=created.api_key,
        )

    @get("/{team_id:uuid}")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        ledger_before: FromQuery[int | None] = None,
        done: FromQuery[str | None] = None,
    ) -> Response[Any]:
        pool = pool_of(request)
        team = await teams.get_team(pool, team_id)
        entries = await credits.ledger(pool, team_id, limit=LEDGER_PAGE + 1, before_id=ledger_before)
        org = await organizations.get_organization(pool, team.organization_id)
        return web.page(
            request,
            "teams/detail.html",
            team=team,
            org=org,
            plan=await plans.get_plan(pool, team.pricing_plan_id),
            plans=await plans.list_plans(pool),
            keys=await keys.list_keys(pool, team_id),
            grants=await modelgroups.team_grants(pool, team_id),
            access_groups=await modelgroups.list_access_groups(pool),
            webhooks=await webhooks.list_endpoints(pool, team_id),
            event_types=EVENT_TYPES,
            ledger=entries[:LEDGER_PAGE],
            ledger_next=entries[LEDGER_PAGE - 1].id if len(entries) > LEDGER_PAGE else None,
            kinds=OPERATOR_KINDS,
            idempotency_key=f"dash-{secrets.token_hex(8)}",
            flash=_flash(done),
        )

    @post("/{team_id:uuid}/status/{action:str}")
    async def change_status(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], action: FromPath[str]
    ) -> Response[Any]:
        if action not in _ACTIONS:
            raise BadRequest("Unknown status action.")
        await teams.change_status(
            pool_of(request), revocations_of(request), actor_of(request), team_id, action
        )
        return web.see_other(f"{web.PREFIX}/teams/{team_id}?done=status")

    @post("/{team_id:uuid}/credits")
    async def move_credits(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        kind = web.text(form, "kind")
        if kind not in OPERATOR_KINDS:
            raise BadRequest("Unknown credit movement.")
        amount = web.integer(form, "amount")
        assert amount is not None
        await credits.record_movement(
            pool_of(request),
            actor_of(request),
            team_id=team_id,
            amount=amount,
            kind=kind,  # type: ignore[arg-type]  # checked against OPERATOR_KINDS above
            reason=web.text(form, "reason"),
            idempotency_key=web.text(form, "idempotency_key", max_len=200),
        )
        return web.see_other(f"{web.PREFIX}/teams/{team_id}?done=credits")

    @post("/{team_id:uuid}/settings")
    async def save_settings(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        plan_id = helpers.parse_uuid(web.text(form, "pricing_plan_id"))
        if plan_id is None:
            raise BadRequest("Choose a pricing plan.")
        patch = TeamPatch(
            pricing_plan_id=plan_id,
            rpm=web.integer(form, "rpm", required=False, minimum=1),
            tpm=web.integer(form, "tpm", required=False, minimum=1),
            overdraft_limit=web.integer(form, "overdraft_limit", minimum=0) or 0,
            retention_days=web.integer(form, "retention_days", minimum=0) or 0,
        )
        await teams.update_team(
            pool_of(request),
            router_admin_of(request),
            revocations_of(request),
            actor_of(request),
            team_id,
            patch,
        )
        return web.see_other(f"{web.PREFIX}/teams/{team_id}?done=saved")

    @post("/{team_id:uuid}/keys")
    async def issue_key(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> Response[Any]:
        form = await request.form()
        issued = await keys.issue_key(
            pool_of(request),
            actor_of(request),
            team_id,
            name=web.text(form, "name", max_len=200),
            expires_at=None,
        )
        team = await teams.get_team(pool_of(request), team_id)
        return web.page(
            request, "teams/key_issued.html", team_id=team_id, team_name=team.name, api_key=issued.api_key
        )

    @post("/{team_id:uuid}/keys/{key_id:uuid}/revoke")
    async def revoke_key(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], key_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await keys.revoke_key(pool_of(request), revocations_of(request), actor_of(request), team_id, key_id)
        return web.see_other(f"{web.PREFIX}/teams/{team_id}?done=revoked")

    @post("/{team_id:uuid}/keys/{key_id:uuid}/rotate")
    async def rotate_key(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], key_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        grace_s = web.integer(form, "grace_s", required=False, minimum=0) or 0
        if grace_s > 30 * 86400:
            raise BadRequest("The grace period is at most 30 days.")
        issued = await keys.rotate_key(
            pool_of(request),
            revocations_of(request),
            actor_of(request),
            team_id,
            key_id,
            grace_s=grace_s,
            name=None,
        )
        team = await teams.get_team(pool_of(request), team_id)
        return web.page(
            request, "teams/key_issued.html", team_id=team_id, team_name=team.name, api_key=issued.api_key
        )

    @post("/{team_id:uuid}/access-groups")
    async def grant(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> Response[Any]:
        form = await request.form()
        group_id = helpers.parse_uuid(web.text(form, "access_group_id"))
        if group_id is None:
            raise BadRequest("Choose an access group.")
        await modelgroups.grant_access_group(
            pool_of(request), router_admin_of(request), actor_of(request), team_id, group_id
        )
        return web.see_other(f"{web.PREFIX}/teams/{team_id}?done=granted")

    @post("/{team_id:uuid}/access-groups/{group_id:uuid}/revoke")
    async def revoke_grant(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], group_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await modelgroups.revoke_access_group(
            pool_of(request), router_admin_of(request), actor_of(request), team_id, group_id
        )
        return web.see_other(f"{web.PREFIX}/teams/{team_id}?done=ungranted")
