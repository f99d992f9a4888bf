"""Malformed input never gets a 500: routes that read a body answer it with a 4xx problem.

Walks the app's route table, authenticated as the route needs (operator token for /admin, a team key
for /api), and sends bodies that are not JSON, not an object, or of the wrong shape. Path parameters
are random ids, so some answers are 404. Routes that take no body may ignore one (2xx); every route
must stay below 500 and never show a trace. Unknown fields are accepted on the job API on purpose
(SaaS LiteLLM clients send extra fields; see COMPAT.md).
"""

from __future__ import annotations

import inspect
import re
import uuid
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

BODY_METHODS = {"POST", "PUT", "PATCH"}
UNPARSABLE: list[tuple[bytes, str]] = [
    (b"{not json", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"[1, 2, 3]", "application/json"),
]
ODD: list[tuple[bytes, str]] = [
    (b'{"model": 5, "messages": "nope", "amount": "many", "status": [], "metadata": 7}', "application/json"),
    (b"a=b", "text/plain"),
    (b'{"amount": 99999999999999999999999999, "limit": -1}', "application/json"),
]


def body_routes(app: Litestar) -> list[tuple[str, str, bool]]:
    """(path, method, reads_a_body) for every /api and /admin route that accepts a body method."""
    found = []
    for route in app.routes:
        if not route.path.startswith(("/api", "/admin")):
            continue
        for handler in getattr(route, "route_handlers", []):
            reads_body = "data" in inspect.signature(handler.fn).parameters
            found.extend(
                (route.path, method, reads_body) for method in handler.http_methods if method in BODY_METHODS
            )
    return sorted(found)


def fill(path: str, team_id: str) -> str:
    def value(match: re.Match[str]) -> str:
        return team_id if match.group(1) == "team_id" else str(uuid.uuid4())

    return re.sub(r"\{(\w+)(?::\w+)?\}", value, path)


async def test_malformed_bodies_get_4xx_problems_on_every_route(
    api_app: Litestar, admin: AsyncTestClient[Litestar], tenancy: Any
) -> None:
    team = await tenancy.team(credits=10)
    team_key = team["api_key"]
    admin_auth = admin.headers["authorization"]
    routes = body_routes(api_app)
    assert len(routes) > 30
    assert sum(reads_body for *_, reads_body in routes) > 20
    failures = []
    for path, method, reads_body in routes:
        auth = f"Bearer {team_key}" if path.startswith("/api") else admin_auth
        for body, content_type in UNPARSABLE + ODD:
            response = await admin.request(
                method,
                fill(path, team["id"]),
                content=body,
                headers={"content-type": content_type, "authorization": auth},
            )
            problem = response.headers.get("content-type", "").startswith("application/problem+json")
            must_refuse = reads_body and (body, content_type) in UNPARSABLE
            bad = response.status_code >= 500 or "Traceback" in response.text
            if must_refuse:
                bad = bad or not (400 <= response.status_code < 500 and problem)
            if bad:
                failures.append(
                    f"{method} {path} {body[:20]!r}: {response.status_code} {response.text[:120]}"
                )
    assert not failures, "\n".join(failures)
