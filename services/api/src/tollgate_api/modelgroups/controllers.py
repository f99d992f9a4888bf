"""``/admin/model-groups`` and ``/admin/access-groups`` (HTTP only)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post, put
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath

from tollgate_api.auth.deps import pool_of, router_admin_of
from tollgate_api.auth.guards import actor_of
from tollgate_api.modelgroups import service
from tollgate_api.modelgroups.schemas import AccessGroupIn, AccessGroupOut, ModelGroupIn, ModelGroupOut

ModelGroupBody = Annotated[
    ModelGroupIn,
    Body(
        examples=[
            Example(
                summary="A chat model group with a fallback",
                value={
                    "name": "chat-fast",
                    "router_model": "gpt-4o-mini",
                    "fallbacks": ["claude-3-5-haiku"],
                    "description": "fast chat",
                },
            )
        ]
    ),
]
AccessGroupBody = Annotated[
    AccessGroupIn,
    Body(
        examples=[
            Example(
                summary="A bundle of model groups",
                value={"name": "standard", "model_groups": ["chat-fast", "doc-analyzer"]},
            )
        ]
    ),
]


class ModelGroupsController(Controller):
    path = "/admin/model-groups"
    tags = ["admin: access"]  # noqa: RUF012

    @post("/", summary="Create a model group (name → router model + ordered fallbacks)")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: ModelGroupBody,
    ) -> ModelGroupOut:
        return await service.create_model_group(pool_of(request), actor_of(request), data)

    @get("/", summary="List model groups")
    async def list_groups(self, request: Request[Any, Any, Any]) -> list[ModelGroupOut]:
        return await service.list_model_groups(pool_of(request))

    @get("/{group_id:uuid}", summary="One model group")
    async def get_group(
        self, request: Request[Any, Any, Any], group_id: FromPath[uuid.UUID]
    ) -> ModelGroupOut:
        return await service.get_model_group(pool_of(request), group_id)

    @put("/{group_id:uuid}", summary="Replace a model group")
    async def update(
        self,
        request: Request[Any, Any, Any],
        group_id: FromPath[uuid.UUID],
        data: ModelGroupBody,
    ) -> ModelGroupOut:
        return await service.update_model_group(
            pool_of(request), router_admin_of(request), actor_of(request), group_id, data
        )

    @delete("/{group_id:uuid}", summary="Delete a model group")
    async def remove(self, request: Request[Any, Any, Any], group_id: FromPath[uuid.UUID]) -> None:
        await service.delete_model_group(
            pool_of(request), router_admin_of(request), actor_of(request), group_id
        )


class AccessGroupsController(Controller):
    path = "/admin/access-groups"
    tags = ["admin: access"]  # noqa: RUF012

    @post("/", summary="Create an access group (a bundle of model groups)")
    async def create(
        self,
        request: Request[Any, Any, Any],
        data: AccessGroupBody,
    ) -> AccessGroupOut:
        return await service.create_access_group(pool_of(request), actor_of(request), data)

    @get("/", summary="List access groups")
    async def list_groups(self, request: Request[Any, Any, Any]) -> list[AccessGroupOut]:
        return await service.list_access_groups(pool_of(request))

    @get("/{group_id:uuid}", summary="One access group")
    async def get_group(
        self, request: Request[Any, Any, Any], group_id: FromPath[uuid.UUID]
    ) -> AccessGroupOut:
        return await service.get_access_group(pool_of(request), group_id)

    @put("/{group_id:uuid}", summary="Replace an access group and its members")
    async def update(
        self,
        request: Request[Any, Any, Any],
        group_id: FromPath[uuid.UUID],
        data: AccessGroupBody,
    ) -> AccessGroupOut:
        return await service.update_access_group(
            pool_of(request), router_admin_of(request), actor_of(request), group_id, data
        )

    @delete("/{group_id:uuid}", summary="Delete an access group")
    async def remove(self, request: Request[Any, Any, Any], group_id: FromPath[uuid.UUID]) -> None:
        await service.delete_access_group(
            pool_of(request), router_admin_of(request), actor_of(request), group_id
        )
