"""``/admin/organizations`` (HTTP only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, patch, post
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath

from tollgate_api.auth.deps import pool_of, revocations_of
from tollgate_api.auth.guards import actor_of
from tollgate_api.organizations import service
from tollgate_api.organizations.schemas import OrganizationIn, OrganizationOut, OrganizationPatch

OrganizationBody = Annotated[
    OrganizationIn,
    Body(
        examples=[
            Example(
                summary="An organization",
                value={"name": "Acme Corp", "metadata": {"crm_id": "A-1001"}},
            )
        ]
    ),
]
OrganizationPatchBody = Annotated[
    OrganizationPatch,
    Body(examples=[Example(summary="Disable an organization", value={"status": "disabled"})]),
]


class OrganizationsController(Controller):
    path = "/admin/organizations"
    tags = ["admin: tenancy"]  # noqa: RUF012

    @post("/", summary="Create an organization")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: OrganizationBody,
    ) -> OrganizationOut:
        return await service.create_organization(pool_of(request), actor_of(request), data)

    @get("/", summary="List organizations")
    async def list_organizations(self, request: Request[Any, Any, Any]) -> list[OrganizationOut]:
        return await service.list_organizations(pool_of(request))

    @get("/{org_id:uuid}", summary="One organization")
    async def get_organization(
        self, request: Request[Any, Any, Any], org_id: FromPath[uuid.UUID]
    ) -> OrganizationOut:
        return await service.get_organization(pool_of(request), org_id)

    @patch("/{org_id:uuid}", summary="Rename, disable or re-tag an organization")
    async def update(
        self,
        request: Request[Any, Any, Any],
        org_id: FromPath[uuid.UUID],
        data: OrganizationPatchBody,
    ) -> OrganizationOut:
        return await service.update_organization(
            pool_of(request), revocations_of(request), actor_of(request), org_id, data
        )
