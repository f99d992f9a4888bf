"""A team's webhooks from the dashboard: create (secret shown once), disable/enable, send a test
event and see its delivery with every attempt, rotate the secret, delete; finance sees no controls
and is refused 403 on every webhook route; bad input gets a 4xx page."""

from __future__ import annotations

import dataclasses
import re
import uuid
from typing import Any

import httpx
import pytest

from tollgate_api.settings import ApiSettings
from tollgate_api.teams import service as teams
from tollgate_api.teams.schemas import TeamIn
from tollgate_api.webhooks import delivery
from tollgate_api.webhooks import service as webhooks
from tollgate_common.crypto import Keyring

URL = "https://hooks.example.com/tollgate"
SECRET = re.compile(r'id="webhook-secret"[^>]*value="([^"]+)"')
ENDPOINT_LINK = re.compile(r'href="(/dashboard/teams/[0-9a-f-]{36}/webhooks/[0-9a-f-]{36})"')


@pytest.fixture
def api_settings(api_settings: ApiSettings) -> ApiSettings:
    # deliveries in this module go to an in-memory transport, not to a resolved public host
    return dataclasses.replace(
        api_settings, webhooks=dataclasses.replace(api_settings.webhooks, allow_http=True)
    )


async def _team(dash: Any) -> Any:
    plan = await dash.world.plan()
    org = await dash.world.organization()
    data = TeamIn(organization_id=org.id, name="hooked", pricing_plan_id=plan.id)
    return await teams.create_team(
        dash.app.state["pool"],
        dash.app.state["router_admin"],
        dash.app.state["keyring"],
        dash.world.actor,
        data,
        default_job_ttl_s=3600,
    )


async def _create(dash: Any, client: Any, team_id: object, *events: str) -> tuple[str, str]:
    team_url = f"/dashboard/teams/{team_id}"
    created = await dash.submit(
        client, team_url, f"{team_url}/webhooks", url=URL, events=list(events), description="billing"
    )
    assert created.status_code == 200, created.text[:500]
    assert "shown once" in created.text
    secret = SECRET.search(created.text)
    link = ENDPOINT_LINK.search(created.text)
    assert secret
    assert link
    return link.group(1), secret.group(1)


async def _deliver_once(app: Any, settings: ApiSettings, delivery_id: Any, status: int) -> None:
    keyring = Keyring.from_setting(settings.auth.encryption_keys.get())
    transport = httpx.MockTransport(lambda _request: httpx.Response(status))
    async with (
        httpx.AsyncClient(transport=transport) as client,
        app.state["pool"].connection() as conn,
    ):
        await delivery.deliver(conn, keyring, settings.webhooks, delivery_id, client=client)


async def test_operator_manages_a_webhook_and_sees_deliveries_with_attempts(
    dashboard: Any, api_settings: ApiSettings
) -> None:
    async with dashboard() as dash:
        team = await _team(dash)
        client = await dash.browser("operator")
        url, secret = await _create(dash, client, team.team_id, "job.completed", "job.failed")
        assert secret not in (await client.get(url)).text  # shown once: only the hint later
        page = (await client.get(f"/dashboard/teams/{team.team_id}")).text
        assert URL in page
        assert "job.completed, job.failed" in page

        disabled = await dash.submit(client, url, f"{url}/enabled")
        assert disabled.status_code == 303
        assert 'id="webhook-state">disabled<' in (await client.get(url)).text
        enabled = await dash.submit(client, url, f"{url}/enabled")
        assert enabled.status_code == 303
        assert 'id="webhook-state">enabled<' in (await client.get(url)).text

        tested = await dash.submit(client, url, f"{url}/test")
        assert tested.status_code == 303
        webhook_id = url.rsplit("/", 1)[1]
        pool = dash.app.state["pool"]
        (sent,) = await webhooks.list_deliveries(pool, team.team_id, uuid.UUID(webhook_id))
        await _deliver_once(dash.app, api_settings, sent.id, 503)
        detail = (await client.get(url)).text
        assert "webhook.test" in detail
        assert "1 attempt" in detail
        assert "HTTP 503" in detail

        rotated = await dash.submit(client, url, f"{url}/rotate-secret", grace_s="60")
        assert rotated.status_code == 200, rotated.text[:500]
        new_secret = SECRET.search(rotated.text)
        assert new_secret
        assert new_secret.group(1) != secret
        assert "previous secret also signs" in rotated.text

        deleted = await dash.submit(client, url, f"{url}/delete")
        assert deleted.status_code == 303
        assert URL not in (await client.get(f"/dashboard/teams/{team.team_id}")).text
        assert (await client.get(url)).status_code == 404
        audit = (await client.get(f"/dashboard/audit?target_type=webhook&target_id={webhook_id}")).text
        for action in ("webhook.create", "webhook.update", "webhook.rotate_secret", "webhook.delete"):
            assert action in audit


async def test_finance_sees_webhooks_without_controls_and_every_change_is_refused(dashboard: Any) -> None:
    async with dashboard() as dash:
        team = await _team(dash)
        admin = await dash.browser("admin")
        url, _ = await _create(dash, admin, team.team_id, "job.completed")
        finance = await dash.browser("finance")
        team_page = (await finance.get(f"/dashboard/teams/{team.team_id}")).text
        assert URL in team_page
        assert f'action="/dashboard/teams/{team.team_id}/webhooks"' not in team_page
        page = await finance.get(url)
        assert page.status_code == 200
        assert 'method="post"' not in page.text.split("<main", 1)[1]  # the logout form sits above
        token = dash.csrf_of(page.text)
        for action, fields in (
            (f"/dashboard/teams/{team.team_id}/webhooks", {"url": URL, "events": "job.failed"}),
            (f"{url}/enabled", {"enabled": "false"}),
            (f"{url}/test", {}),
            (f"{url}/rotate-secret", {}),
            (f"{url}/delete", {}),
        ):
            refused = await finance.post(action, data={"_csrf": token, **fields})
            assert refused.status_code == 403, (action, refused.status_code)
        assert 'id="webhook-state">enabled<' in (await admin.get(url)).text
        assert len(await webhooks.list_endpoints(dash.app.state["pool"], team.team_id)) == 1


async def test_bad_webhook_input_gets_a_4xx_page(dashboard: Any) -> None:
    async with dashboard() as dash:
        team = await _team(dash)
        client = await dash.browser("operator")
        team_url = f"/dashboard/teams/{team.team_id}"
        for fields in (
            {"url": URL, "events": ["planet.exploded"]},
            {"url": URL, "events": []},
            {"url": "not a url", "events": ["job.failed"]},
        ):
            response = await dash.submit(client, team_url, f"{team_url}/webhooks", **fields)
            assert 400 <= response.status_code < 500, (fields, response.status_code)
            assert response.headers["content-type"].startswith("text/html")
        url, _ = await _create(dash, client, team.team_id, "job.failed")
        bad_grace = await dash.submit(client, url, f"{url}/rotate-secret", grace_s="-5")
        assert bad_grace.status_code == 400
        too_long = await dash.submit(client, url, f"{url}/rotate-secret", grace_s=str(8 * 86400))
        assert too_long.status_code == 400
