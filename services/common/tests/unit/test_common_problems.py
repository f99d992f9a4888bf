"""Every error leaves as RFC 9457 problem+json; malformed input is a 4xx, never a 500 with a trace."""

from __future__ import annotations

import msgspec
from litestar import Litestar, post
from litestar.params import JSONBody
from litestar.testing import TestClient

from tollgate_common.errors import Conflict, RateLimited
from tollgate_common.problems import exception_handlers


class Body(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    amount: int


@post("/echo")
async def echo(data: JSONBody[Body]) -> Body:
    return data


@post("/conflict")
async def conflict() -> None:
    raise Conflict("already there", extra={"resource": "team"})


@post("/limited")
async def limited() -> None:
    raise RateLimited(retry_after_s=7)


@post("/boom")
async def boom() -> None:
    raise RuntimeError("password=hunter2 in a driver message")


def client() -> TestClient[Litestar]:
    app = Litestar([echo, conflict, limited, boom], exception_handlers=exception_handlers())
    return TestClient(app)


def test_malformed_json_is_a_400_problem() -> None:
    with client() as c:
        response = c.post("/echo", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"].endswith("/invalid-request")


def test_wrong_types_and_unknown_fields_are_400_with_field_errors() -> None:
    with client() as c:
        wrong = c.post("/echo", json={"name": "a", "amount": "many"})
        unknown = c.post("/echo", json={"name": "a", "amount": 1, "extra": True})
    assert wrong.status_code == 400
    assert wrong.json()["errors"]
    assert unknown.status_code == 400


def test_domain_error_keeps_its_type_detail_extra_and_headers() -> None:
    with client() as c:
        conflict_response = c.post("/conflict")
        limited_response = c.post("/limited")
    body = conflict_response.json()
    assert conflict_response.status_code == 409
    assert body == {
        "type": "https://tollgate.dev/problems/conflict",
        "title": "Conflict",
        "status": 409,
        "detail": "already there",
        "instance": "/conflict",
        "resource": "team",
    }
    assert limited_response.status_code == 429
    assert limited_response.headers["retry-after"] == "7"


def test_unexpected_errors_are_500_without_internals() -> None:
    with client() as c:
        response = c.post("/boom")
    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert response.json()["type"].endswith("/internal")


def test_wrong_method_and_unknown_route_are_problems() -> None:
    with client() as c:
        method = c.get("/echo")
        missing = c.get("/nowhere")
    assert method.status_code == 405
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
