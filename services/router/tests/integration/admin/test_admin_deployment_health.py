"""GET /admin/deployments/health: the cooldown every replica shares through Redis, with seconds left;
admin token required."""

from __future__ import annotations

import uuid
from typing import Any

from tollgate_router.chat.routing import Cooldowns


async def _deployment(r: Any, headers: dict[str, str], model_name: str) -> str:
    provider = await r.client.post(
        "/admin/providers", json={"name": f"p-{model_name}", "kind": "mock"}, headers=headers
    )
    assert provider.status_code == 201, provider.text
    body = {"model_name": model_name, "provider_id": provider.json()["id"], "upstream_model": "m"}
    response = await r.client.post("/admin/deployments", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def test_health_shows_a_cooldown_set_by_another_replica_with_seconds_left(
    running_app: Any, admin_headers: dict[str, str], redis_prefix: str
) -> None:
    async with running_app() as r:
        hot = await _deployment(r, admin_headers, "hot")
        calm = await _deployment(r, admin_headers, "calm")

        async def no_ids() -> list[uuid.UUID]:
            return []

        # another replica's Cooldowns: only Redis connects it to this app
        other = Cooldowns(r.app.state.redis, prefix=redis_prefix, poll_s=3600, deployment_ids=no_ids)
        await other.cool(uuid.UUID(hot), 30)

        response = await r.client.get("/admin/deployments/health", headers=admin_headers)

    assert response.status_code == 200, response.text
    by_id = {item["id"]: item for item in response.json()}
    assert by_id[hot]["cooling_down"] is True
    assert 25 <= by_id[hot]["cooldown_remaining_s"] <= 30
    assert by_id[hot]["model_name"] == "hot"
    assert by_id[calm]["cooling_down"] is False
    assert by_id[calm]["cooldown_remaining_s"] == 0


async def test_health_requires_the_admin_token(running_app: Any) -> None:
    async with running_app() as r:
        anonymous = await r.client.get("/admin/deployments/health")
        wrong = await r.client.get(
            "/admin/deployments/health", headers={"Authorization": "Bearer not-the-token"}
        )
    assert anonymous.status_code == 401
    assert wrong.status_code == 401
