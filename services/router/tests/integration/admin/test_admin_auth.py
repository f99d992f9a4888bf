"""Every /admin route refuses anonymous callers, wrong tokens, and everyone when no token is set."""

from __future__ import annotations

import re
import uuid
from typing import Any

from litestar import Litestar


def admin_requests(app: Litestar) -> list[tuple[str, str]]:
    """(method, concrete path) for every admin route of the app's route table."""
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if not route.path.startswith("/admin"):
            continue
        path = re.sub(r"\{[^}:]+:uuid\}", str(uuid.uuid4()), route.path)
        path = re.sub(r"\{[^}:]+:path\}", "some/model", path)
        path = re.sub(r"\{[^}]+\}", "x", path)
        found.extend(
            (method, path) for method in sorted(getattr(route, "methods", set()) - {"HEAD", "OPTIONS"})
        )
    return found


async def test_every_admin_route_refuses_missing_and_wrong_tokens(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as r:
        requests = admin_requests(r.app)
        assert len(requests) >= 20, requests  # the walk found the admin API
        for method, path in requests:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": admin_headers["Authorization"][7:]},
            ):
                response = await r.client.request(method, path, headers=headers, json={})
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.headers["content-type"].startswith("application/problem+json")
                assert response.headers["www-authenticate"].startswith("Bearer")


async def test_admin_refuses_everything_when_no_token_is_configured(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app(TOLLGATE_ROUTER_ADMIN_TOKEN="") as r:
        for method, path in admin_requests(r.app):
            for headers in ({}, {"Authorization": "Bearer "}, admin_headers):
                response = await r.client.request(method, path, headers=headers, json={})
                assert response.status_code == 401, (method, path, response.text)


async def test_the_right_token_is_let_through(running_app: Any, admin_headers: dict[str, str]) -> None:
    async with running_app() as r:
        response = await r.client.get("/admin/keys", headers=admin_headers)
    assert response.status_code == 200, response.text
    assert response.json() == []
