"""/schema/openapi.json documents every route of the api, and every request body has an example."""

from __future__ import annotations

import inspect
import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

UNDOCUMENTED = ("/health", "/metrics", "/schema")


def _openapi_path(path: str) -> str:
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


async def test_every_route_is_documented_and_every_body_has_an_example(
    api_app: Litestar, admin: AsyncTestClient[Litestar]
) -> None:
    schema = (await admin.get("/schema/openapi.json")).json()
    paths: dict[str, Any] = schema["paths"]
    missing, without_example = [], []
    for route in api_app.routes:
        if route.path.startswith(UNDOCUMENTED) or not route.path.startswith(("/api", "/admin")):
            continue
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods - {"OPTIONS", "HEAD"}:
                operation = paths.get(_openapi_path(route.path), {}).get(method.lower())
                if operation is None:
                    missing.append(f"{method} {route.path}")
                    continue
                if "data" not in inspect.signature(handler.fn).parameters:
                    continue
                content = operation.get("requestBody", {}).get("content", {})
                body = next(iter(content.values()), {})
                schema_examples = body.get("schema", {}).get("examples")
                examples = body.get("examples") or body.get("example") or schema_examples
                if not examples:
                    without_example.append(f"{method} {route.path}")
    assert not missing, f"routes missing from OpenAPI: {missing}"
    assert not without_example, f"request bodies without an example: {without_example}"
