"""The providers page shows each deployment's health from the router's ``/admin/deployments/health``:
healthy, or cooling down with the seconds left; "unknown" when the router cannot say."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

PROVIDER = str(uuid.uuid4())
HOT, CALM = str(uuid.uuid4()), str(uuid.uuid4())


def _deployment(deployment_id: str, model_name: str) -> dict[str, Any]:
    return {
        "id": deployment_id,
        "model_name": model_name,
        "provider_id": PROVIDER,
        "upstream_model": "up",
        "input_price_micro_usd_per_mtok": 1,
        "output_price_micro_usd_per_mtok": 2,
        "cached_input_price_micro_usd_per_mtok": 0,
        "rpm": None,
        "tpm": None,
        "enabled": True,
    }


@dataclass
class CatalogRouter:
    """The router admin API's catalog reads, with a health endpoint that may be missing."""

    health: bool = True
    seen: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.seen.append(path)
        if path == "/admin/providers":
            return httpx.Response(
                200,
                json=[
                    {
                        "id": PROVIDER,
                        "name": "mock-main",
                        "kind": "mock",
                        "base_url": None,
                        "has_api_key": False,
                        "api_key_hint": None,
                    }
                ],
            )
        if path == "/admin/deployments":
            return httpx.Response(200, json=[_deployment(HOT, "hot-model"), _deployment(CALM, "calm-model")])
        if path == "/admin/deployments/health" and self.health:
            return httpx.Response(
                200,
                json=[
                    {"id": HOT, "cooling_down": True, "cooldown_remaining_s": 42},
                    {"id": CALM, "cooling_down": False, "cooldown_remaining_s": 0},
                ],
            )
        return httpx.Response(404, json={"type": "not-found"})

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


@pytest.fixture
def fake_router() -> CatalogRouter:
    return CatalogRouter()


def _row_of(html: str, model_name: str) -> str:
    start = html.index(f"<code>{model_name}</code>")
    return html[start : html.index("</tr>", start)]


async def test_providers_page_shows_cooldown_seconds_left_and_healthy(
    dashboard: Any, fake_router: CatalogRouter
) -> None:
    async with dashboard() as dash:
        admin = await dash.browser("admin")
        page = await admin.get("/dashboard/providers")
    assert page.status_code == 200, page.text[:500]
    assert "cooling down for 42s" in _row_of(page.text, "hot-model")
    assert "healthy" in _row_of(page.text, "calm-model")
    assert "/admin/deployments/health" in fake_router.seen


async def test_providers_page_still_renders_when_the_router_has_no_health(
    dashboard: Any, fake_router: CatalogRouter
) -> None:
    fake_router.health = False
    async with dashboard() as dash:
        admin = await dash.browser("admin")
        page = await admin.get("/dashboard/providers")
    assert page.status_code == 200, page.text[:500]
    assert "unknown" in _row_of(page.text, "hot-model")
    assert "cooling down" not in page.text.split("<h2>Deployments</h2>")[1]
