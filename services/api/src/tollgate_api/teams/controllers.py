"""``/admin/teams`` and everything under a team: keys, credits, ledger, access groups (HTTP only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, FromQuery, QueryParameter

from tollgate_api.auth.deps import keyring_of, pool_of, revocations_of, router_admin_of, settings_of
from tollgate_api.auth.guards import actor_of
from tollgate_api.credits import service as credits
from tollgate_api.keys import service as keys
from tollgate_api.keys.schemas import KeyIn, KeyIssued, KeyOut, RotateIn
from tollgate_api.modelgroups import service as modelgroups
from tollgate_api.modelgroups.schemas import GrantIn, GrantOut
from tollgate_api.teams import service
from tollgate_api.teams.schemas import CreditsIn, CreditsOut, TeamCreated, TeamIn, TeamOut, TeamPatch

TeamBody = Annotated[
    TeamIn,
    Body(
        examples=[
            Example(
                summary="A team on a per-job plan with one access group",
                value={
                    "organization_id": "6f1c2a4e-2f8b-4a53-9d3e-1b2c3d4e5f60",
                    "name": "acme-support-bot",
                    "pricing_plan_id": "0b7e8f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
                    "rpm": 600,
                    "overdraft_limit": 0,
                    "job_ttl_s": 3600,
                    "access_groups": ["9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"],
                    "key_name": "production",
                },
            )
        ]
    ),
]
TeamPatchBody = Annotated[
    TeamPatch,
    Body(
        examples=[
            Example(
                summary="Move a team to another plan and allow some overdraft",
                value={
                    "pricing_plan_id": "0b7e8f9a-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
                    "overdraft_limit": 100,
                },
            )
        ]
    ),
]
KeyBody = Annotated[
    KeyIn,
    Body(
        examples=[
            Example(
                summary="A key that expires",
                value={"name": "staging", "expires_at": "2027-01-01T00:00:00Z"},
            )
        ]
    ),
]
RotateBody = Annotated[
    RotateIn,
    Body(examples=[Example(summary="Rotate with a one-hour grace period", value={"grace_s": 3600})]),
]
CreditsBody = Annotated[
    CreditsIn,
    Body(
        examples=[
            Example(
                summary="Allocate credits",
                value={
                    "amount": 10000,
                    "reason": "November contract",
                    "idempotency_key": "po-2026-11-acme",
                    "kind": "allocation",
                },
            ),
            Example(
                summary="Grant credits whose unused remainder expires",
                value={
                    "amount": 5000,
                    "reason": "trial credits",
                    "idempotency_key": "trial-2026-11-acme",
                    "kind": "allocation",
                    "expires_at": "2026-12-31T23:59:59Z",
                },
            ),
        ]
    ),
]
GrantBody = Annotated[
    GrantIn,
    Body(
        examples=[
            Example(
                summary="Grant an access group",
                value={"access_group_id": "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"},
            )
        ]
    ),
]


class TeamsController(Controller):
    path = "/admin/teams"
    tags = ["admin: tenancy"]  # noqa: RUF012

    @post("/", summary="Create a team, its router key and its first API key (shown once)")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: TeamBody,
    ) -> TeamCreated:
        return await service.create_team(
            pool_of(request),
            router_admin_of(request),
            keyring_of(request),
            actor_of(request),
            data,
            default_job_ttl_s=settings_of(request).jobs.default_ttl_s,
        )

    @get("/", summary="List teams")
    async def list_teams(
        self,
        request: Request[Any, Any, Any],
        organization_id: FromQuery[uuid.UUID | None] = None,
    ) -> list[TeamOut]:
        return await service.list_teams(pool_of(request), organization_id=organization_id)

    @get("/{team_id:uuid}", summary="One team with its credit balance")
    async def get_team(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> TeamOut:
        return await service.get_team(pool_of(request), team_id)

    @patch("/{team_id:uuid}", summary="Change a team's plan, limits or settings")
    async def update(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        data: TeamPatchBody,
    ) -> TeamOut:
        return await service.update_team(
            pool_of(request),
            router_admin_of(request),
            revocations_of(request),
            actor_of(request),
            team_id,
            data,
        )

    @post("/{team_id:uuid}/pause", status_code=200, summary="Pause: no new jobs, open jobs may finish")
    async def pause(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> TeamOut:
        return await service.change_status(
            pool_of(request), revocations_of(request), actor_of(request), team_id, "pause"
        )

    @post("/{team_id:uuid}/suspend", status_code=200, summary="Suspend: nothing but reads")
    async def suspend(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> TeamOut:
        return await service.change_status(
            pool_of(request), revocations_of(request), actor_of(request), team_id, "suspend"
        )

    @post("/{team_id:uuid}/resume", status_code=200, summary="Back to active")
    async def resume(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> TeamOut:
        return await service.change_status(
            pool_of(request), revocations_of(request), actor_of(request), team_id, "resume"
        )

    @post("/{team_id:uuid}/sync-router-key", status_code=204, summary="Re-push allowed models to the router")
    async def sync_router_key(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> None:
        await service.sync_router_key(pool_of(request), router_admin_of(request), team_id)

    # ------------------------------------------------------------------ keys

    @get("/{team_id:uuid}/keys", summary="The team's API keys (never the secrets)")
    async def list_keys(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> list[KeyOut]:
        return await keys.list_keys(pool_of(request), team_id)

    @post("/{team_id:uuid}/keys", summary="Issue an API key (shown once)")
    async def issue_key(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        data: KeyBody,
    ) -> KeyIssued:
        return await keys.issue_key(
            pool_of(request), actor_of(request), team_id, name=data.name, expires_at=data.expires_at
        )

    @post("/{team_id:uuid}/keys/{key_id:uuid}/revoke", status_code=200, summary="Revoke a key now")
    async def revoke_key(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], key_id: FromPath[uuid.UUID]
    ) -> KeyOut:
        return await keys.revoke_key(
            pool_of(request), revocations_of(request), actor_of(request), team_id, key_id
        )

    @post("/{team_id:uuid}/keys/{key_id:uuid}/rotate", summary="New key; the old one lives grace_s more")
    async def rotate_key(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        key_id: FromPath[uuid.UUID],
        data: RotateBody,
    ) -> KeyIssued:
        return await keys.rotate_key(
            pool_of(request),
            revocations_of(request),
            actor_of(request),
            team_id,
            key_id,
            grace_s=data.grace_s,
            name=data.name,
        )

    # ------------------------------------------------------------------ credits

    @post("/{team_id:uuid}/credits", summary="Allocate, sell, adjust or refund credits (idempotent)")
    async def move_credits(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        data: CreditsBody,
    ) -> CreditsOut:
        entry, balance, created = await credits.record_movement(
            pool_of(request),
            actor_of(request),
            team_id=team_id,
            amount=data.amount,
            kind=data.kind,
            reason=data.reason,
            idempotency_key=data.idempotency_key,
            expires_at=data.expires_at,
        )
        return CreditsOut(entry=entry, balance=balance, created=created, expires_at=data.expires_at)

    @get("/{team_id:uuid}/ledger", summary="The team's ledger, newest first (cursor: before_id)")
    async def ledger(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        limit: Annotated[int, QueryParameter(ge=1, le=1000)] = 100,
        before_id: FromQuery[int | None] = None,
    ) -> list[credits.AdminLedgerEntry]:
        return await credits.ledger(pool_of(request), team_id, limit=limit, before_id=before_id)

    @get("/{team_id:uuid}/ledger/verify", summary="Balance == sum of the ledger, held == open holds")
    async def verify(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]
    ) -> credits.LedgerCheck:
        return await credits.verify_team(pool_of(request), team_id)

    # ------------------------------------------------------------------ access groups

    @get("/{team_id:uuid}/access-groups", summary="Access groups granted to the team")
    async def grants(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> list[GrantOut]:
        return await modelgroups.team_grants(pool_of(request), team_id)

    @post("/{team_id:uuid}/access-groups", summary="Grant an access group")
    async def grant(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        data: GrantBody,
    ) -> list[GrantOut]:
        return await modelgroups.grant_access_group(
            pool_of(request), router_admin_of(request), actor_of(request), team_id, data.access_group_id
        )

    @delete("/{team_id:uuid}/access-groups/{access_group_id:uuid}", summary="Revoke an access group")
    async def revoke_grant(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        access_group_id: FromPath[uuid.UUID],
    ) -> None:
        await modelgroups.revoke_access_group(
            pool_of(request), router_admin_of(request), actor_of(request), team_id, access_group_id
        )
