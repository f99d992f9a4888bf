"""HTTP for webhook endpoints (HTTP only; logic in :mod:`tollgate_api.webhooks.service`).

* ``/api/webhooks`` — a team manages its own endpoints with its API key (the key decides the team).
* ``/admin/teams/{team_id}/webhooks`` — operators for a team: the same operations; ``admin_guard``
  makes the finance role read-only.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, FromQuery, QueryParameter

from tollgate_api.audit.service import Actor
from tollgate_api.auth.deps import keyring_of, pool_of, settings_of
from tollgate_api.auth.guards import actor_of
from tollgate_api.auth.team import TeamPrincipal, provide_team
from tollgate_api.webhooks import enqueue, service
from tollgate_api.webhooks.schemas import (
    DeliveryDetail,
    DeliveryOut,
    EndpointCreated,
    EndpointIn,
    EndpointOut,
    EndpointPatch,
    RotateSecretIn,
    SecretRotated,
    TestEventSent,
)

EndpointBody = Annotated[
    EndpointIn,
    Body(
        examples=[
            Example(
                summary="Job outcomes to one https endpoint",
                value={
                    "url": "https://hooks.example.com/tollgate",
                    "events": ["job.completed", "job.failed"],
                    "description": "billing service",
                },
            )
        ]
    ),
]
EndpointPatchBody = Annotated[
    EndpointPatch,
    Body(examples=[Example(summary="Pause deliveries", value={"enabled": False})]),
]
RotateBody = Annotated[
    RotateSecretIn,
    Body(examples=[Example(summary="Both secrets sign for an hour", value={"grace_s": 3600})]),
]
Limit = Annotated[int, QueryParameter(ge=1, le=service.MAX_PAGE, description="Page size.")]

Team = NamedDependency[TeamPrincipal]


def team_actor(request: Request[Any, Any, Any], team: TeamPrincipal) -> Actor:
    client = request.scope.get("client")
    return Actor(f"team-key:{team.key_id}", str(client[0]) if client else None)


class TeamWebhooksController(Controller):
    path = "/api/webhooks"
    tags = ["webhooks"]  # noqa: RUF012
    dependencies = {"team": Provide(provide_team)}  # noqa: RUF012

    @post("/", summary="Register a webhook endpoint (the signing secret is shown once)")
    async def create(
        self, request: Request[Any, Any, Any], data: EndpointBody, team: Team
    ) -> EndpointCreated:
        return await service.create_endpoint(
            pool_of(request),
            keyring_of(request),
            settings_of(request).webhooks,
            team_actor(request, team),
            team.team_id,
            data,
        )

    @get("/", summary="The team's webhook endpoints")
    async def list_endpoints(self, request: Request[Any, Any, Any], team: Team) -> list[EndpointOut]:
        return await service.list_endpoints(pool_of(request), team.team_id)

    @get("/{webhook_id:uuid}", summary="One webhook endpoint")
    async def get_endpoint(
        self, request: Request[Any, Any, Any], webhook_id: FromPath[uuid.UUID], team: Team
    ) -> EndpointOut:
        return await service.get_endpoint(pool_of(request), team.team_id, webhook_id)

    @patch("/{webhook_id:uuid}", summary="Change the URL, events, description or enabled")
    async def update(
        self,
        request: Request[Any, Any, Any],
        webhook_id: FromPath[uuid.UUID],
        data: EndpointPatchBody,
        team: Team,
    ) -> EndpointOut:
        return await service.update_endpoint(
            pool_of(request),
            settings_of(request).webhooks,
            team_actor(request, team),
            team.team_id,
            webhook_id,
            data,
        )

    @delete("/{webhook_id:uuid}", status_code=204, summary="Delete an endpoint and its deliveries")
    async def remove(
        self, request: Request[Any, Any, Any], webhook_id: FromPath[uuid.UUID], team: Team
    ) -> None:
        await service.delete_endpoint(pool_of(request), team_actor(request, team), team.team_id, webhook_id)

    @post(
        "/{webhook_id:uuid}/rotate-secret",
        status_code=200,
        summary="New signing secret (shown once); the old one also signs for grace_s",
    )
    async def rotate(
        self,
        request: Request[Any, Any, Any],
        webhook_id: FromPath[uuid.UUID],
        data: RotateBody,
        team: Team,
    ) -> SecretRotated:
        return await service.rotate_secret(
            pool_of(request),
            keyring_of(request),
            settings_of(request).webhooks,
            team_actor(request, team),
            team.team_id,
            webhook_id,
            data,
        )

    @post("/{webhook_id:uuid}/test", status_code=202, summary="Send a webhook.test event to this endpoint")
    async def send_test(
        self, request: Request[Any, Any, Any], webhook_id: FromPath[uuid.UUID], team: Team
    ) -> TestEventSent:
        sent = await service.send_test_event(pool_of(request), team.team_id, webhook_id)
        await enqueue.enqueue_delivery(sent.delivery_id)
        return sent

    @get("/{webhook_id:uuid}/deliveries", summary="Deliveries to this endpoint, newest first")
    async def deliveries(
        self,
        request: Request[Any, Any, Any],
        webhook_id: FromPath[uuid.UUID],
        team: Team,
        status: FromQuery[str | None] = None,
        limit: Limit = 50,
    ) -> list[DeliveryOut]:
        return await service.list_deliveries(
            pool_of(request), team.team_id, webhook_id, status=status, limit=limit
        )

    @get("/{webhook_id:uuid}/deliveries/{delivery_id:uuid}", summary="One delivery with every attempt")
    async def delivery(
        self,
        request: Request[Any, Any, Any],
        webhook_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
        team: Team,
    ) -> DeliveryDetail:
        return await service.get_delivery(pool_of(request), team.team_id, webhook_id, delivery_id)


class AdminWebhooksController(Controller):
    path = "/admin/teams/{team_id:uuid}/webhooks"
    tags = ["webhooks"]  # noqa: RUF012

    @post("/", summary="Register a webhook endpoint for a team (the signing secret is shown once)")
    async def create(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], data: EndpointBody
    ) -> EndpointCreated:
        return await service.create_endpoint(
            pool_of(request),
            keyring_of(request),
            settings_of(request).webhooks,
            actor_of(request),
            team_id,
            data,
        )

    @get("/", summary="A team's webhook endpoints")
    async def list_endpoints(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]
    ) -> list[EndpointOut]:
        return await service.list_endpoints(pool_of(request), team_id)

    @get("/{webhook_id:uuid}", summary="One webhook endpoint of a team")
    async def get_endpoint(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], webhook_id: FromPath[uuid.UUID]
    ) -> EndpointOut:
        return await service.get_endpoint(pool_of(request), team_id, webhook_id)

    @patch("/{webhook_id:uuid}", summary="Change a team's webhook endpoint")
    async def update(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        webhook_id: FromPath[uuid.UUID],
        data: EndpointPatchBody,
    ) -> EndpointOut:
        return await service.update_endpoint(
            pool_of(request), settings_of(request).webhooks, actor_of(request), team_id, webhook_id, data
        )

    @delete("/{webhook_id:uuid}", status_code=204, summary="Delete a team's webhook endpoint")
    async def remove(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], webhook_id: FromPath[uuid.UUID]
    ) -> None:
        await service.delete_endpoint(pool_of(request), actor_of(request), team_id, webhook_id)

    @post("/{webhook_id:uuid}/rotate-secret", status_code=200, summary="New signing secret (shown once)")
    async def rotate(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        webhook_id: FromPath[uuid.UUID],
        data: RotateBody,
    ) -> SecretRotated:
        return await service.rotate_secret(
            pool_of(request),
            keyring_of(request),
            settings_of(request).webhooks,
            actor_of(request),
            team_id,
            webhook_id,
            data,
        )

    @post("/{webhook_id:uuid}/test", status_code=202, summary="Send a webhook.test event to this endpoint")
    async def send_test(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], webhook_id: FromPath[uuid.UUID]
    ) -> TestEventSent:
        sent = await service.send_test_event(pool_of(request), team_id, webhook_id)
        await enqueue.enqueue_delivery(sent.delivery_id)
        return sent

    @get("/{webhook_id:uuid}/deliveries", summary="Deliveries to a team's endpoint, newest first")
    async def deliveries(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        webhook_id: FromPath[uuid.UUID],
        status: FromQuery[str | None] = None,
        limit: Limit = 50,
    ) -> list[DeliveryOut]:
        return await service.list_deliveries(
            pool_of(request), team_id, webhook_id, status=status, limit=limit
        )

    @get("/{webhook_id:uuid}/deliveries/{delivery_id:uuid}", summary="One delivery with every attempt")
    async def delivery(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        webhook_id: FromPath[uuid.UUID],
        delivery_id: FromPath[uuid.UUID],
    ) -> DeliveryDetail:
        return await service.get_delivery(pool_of(request), team_id, webhook_id, delivery_id)
