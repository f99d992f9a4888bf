"""A team's webhook endpoints: create (the signing secret shown once), enable/disable, rotate the
secret, send a test event, delete, and the recent deliveries with every attempt.

Every action calls :mod:`tollgate_api.webhooks.service`, the functions ``/admin/teams/{team_id}/webhooks``
uses, so validation (https only, known events, the per-team limit), auditing and the finance role's
read-only rule are the same; the test event is handed to the workers the same way too.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery

from tollgate_api.auth.deps import keyring_of, pool_of, settings_of
from tollgate_api.auth.guards import actor_of
from tollgate_api.dashboard import web
from tollgate_api.dashboard.catalog import convert
from tollgate_api.errors import BadRequest
from tollgate_api.teams import service as teams
from tollgate_api.webhooks import enqueue
from tollgate_api.webhooks import service as webhooks
from tollgate_api.webhooks.events import EVENT_TYPES
from tollgate_api.webhooks.schemas import EndpointIn, EndpointPatch, RotateSecretIn

RECENT_DELIVERIES: Final = 20
_FLASH: Final = {
    "saved": "Webhook saved.",
    "tested": "Test event queued; its delivery appears below.",
}


class TeamWebhooksPages(Controller):
    path = web.PREFIX + "/teams/{team_id:uuid}/webhooks"

    @post("/")
    async def create(self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID]) -> Response[Any]:
        form = await request.form()
        data = convert(
            {
                "url": web.text(form, "url", max_len=2048),
                "events": [e for e in form.getall("events", []) if isinstance(e, str)],
                "description": web.text(form, "description", required=False),
                "enabled": True,
            },
            EndpointIn,
        )
        pool = pool_of(request)
        created = await webhooks.create_endpoint(
            pool, keyring_of(request), settings_of(request).webhooks, actor_of(request), team_id, data
        )
        team = await teams.get_team(pool, team_id)
        return web.page(
            request,
            "teams/webhook_secret.html",
            team_id=team_id,
            team_name=team.name,
            endpoint_id=created.id,
            url=created.url,
            secret=created.secret,
            previous_until=None,
        )

    @get("/{webhook_id:uuid}")
    async def detail(
        self,
        request: Request[Any, Any, Any],
        team_id: FromPath[uuid.UUID],
        webhook_id: FromPath[uuid.UUID],
        done: FromQuery[str | None] = None,
    ) -> Response[Any]:
        pool = pool_of(request)
        team = await teams.get_team(pool, team_id)
        endpoint = await webhooks.get_endpoint(pool, team_id, webhook_id)
        recent = await webhooks.list_deliveries(pool, team_id, webhook_id, limit=RECENT_DELIVERIES)
        deliveries = [await webhooks.get_delivery(pool, team_id, webhook_id, d.id) for d in recent]
        return web.page(
            request,
            "teams/webhook.html",
            team=team,
            endpoint=endpoint,
            deliveries=deliveries,
            event_types=EVENT_TYPES,
            flash=_FLASH.get(done or ""),
        )

    @post("/{webhook_id:uuid}/enabled")
    async def toggle(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], webhook_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        enabled = web.text(form, "enabled")
        if enabled not in {"true", "false"}:
            raise BadRequest("Enabled must be true or false.")
        await webhooks.update_endpoint(
            pool_of(request),
            settings_of(request).webhooks,
            actor_of(request),
            team_id,
            webhook_id,
            EndpointPatch(enabled=enabled == "true"),
        )
        return web.see_other(f"{web.PREFIX}/teams/{team_id}/webhooks/{webhook_id}?done=saved")

    @post("/{webhook_id:uuid}/rotate-secret")
    async def rotate(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], webhook_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        form = await request.form()
        data = convert({"grace_s": web.integer(form, "grace_s", required=False, minimum=0)}, RotateSecretIn)
        pool = pool_of(request)
        rotated = await webhooks.rotate_secret(
            pool,
            keyring_of(request),
            settings_of(request).webhooks,
            actor_of(request),
            team_id,
            webhook_id,
            data,
        )
        team = await teams.get_team(pool, team_id)
        return web.page(
            request,
            "teams/webhook_secret.html",
            team_id=team_id,
            team_name=team.name,
            endpoint_id=webhook_id,
            url=rotated.endpoint.url,
            secret=rotated.secret,
            previous_until=rotated.previous_secret_valid_until,
        )

    @post("/{webhook_id:uuid}/test")
    async def send_test(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], webhook_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        sent = await webhooks.send_test_event(pool_of(request), team_id, webhook_id)
        await enqueue.enqueue_delivery(sent.delivery_id)
        return web.see_other(f"{web.PREFIX}/teams/{team_id}/webhooks/{webhook_id}?done=tested")

    @post("/{webhook_id:uuid}/delete")
    async def remove(
        self, request: Request[Any, Any, Any], team_id: FromPath[uuid.UUID], webhook_id: FromPath[uuid.UUID]
    ) -> Response[Any]:
        await webhooks.delete_endpoint(pool_of(request), actor_of(request), team_id, webhook_id)
        return web.see_other(f"{web.PREFIX}/teams/{team_id}?done=webhook_deleted#webhooks-h")
