"""Malformed input never gets a 500 from the router: body-reading routes answer it with a 4xx.

Admin routes answer RFC 9457 problems; the OpenAI-compatible data plane answers OpenAI's error shape.
"""

from __future__ import annotations

import inspect
import re
import uuid
from typing import Any

from litestar import Litestar

BODY_METHODS = {"POST", "PUT", "PATCH"}
UNPARSABLE = [b"{not json", b"\xff\xfe\x00garbage", b"[1, 2, 3]"]
ODD = [b'{"model": 5, "messages": "nope", "weight": -1, "stream": "yes"}', b'{"max_tokens": 1e999}']


def body_routes(app: Litestar) -> list[tuple[str, str, bool]]:
    found = []
    for route in app.routes:
        if not route.path.startswith(("/v1", "/admin")):
            continue
        for handler in getattr(route, "route_handlers", []):
            reads_body = "data" in inspect.signature(handler.fn).parameters or route.path.startswith("/v1")
            found.extend(
                (route.path, method, reads_body) for method in handler.http_methods if method in BODY_METHODS
            )
    return sorted(found)


async def test_malformed_bodies_get_4xx_on_every_router_route(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as r:
        created = await r.client.post("/admin/keys", json={"owner_ref": "team-x"}, headers=admin_headers)
        assert created.status_code == 201, created.text
        key_auth = {"Authorization": f"Bearer {created.json()['key']}"}
        routes = body_routes(r.app)
        assert len(routes) > 10
        failures = []
        for path, method, reads_body in routes:
            auth = key_auth if path.startswith("/v1") else admin_headers
            target = re.sub(r"\{(\w+)(?::\w+)?\}", lambda _: str(uuid.uuid4()), path)
            for body in UNPARSABLE + ODD:
                response = await r.client.request(
                    method, target, content=body, headers={**auth, "content-type": "application/json"}
                )
                bad = response.status_code >= 500 or "Traceback" in response.text
                if reads_body and body in UNPARSABLE:
                    bad = bad or not 400 <= response.status_code < 500
                    if path.startswith("/v1"):
                        bad = bad or "error" not in response.json()
                    else:
                        bad = bad or not response.headers["content-type"].startswith(
                            "application/problem+json"
                        )
                if bad:
                    failures.append(
                        f"{method} {path} {body[:16]!r}: {response.status_code} {response.text[:100]}"
                    )
    assert not failures, "\n".join(failures)
