"""The demo seed is idempotent: it finds before it creates, allocates once, and keeps the team's key.

The admin APIs are stood in for by a small in-memory fake (httpx.MockTransport) that answers the
shapes the real controllers answer; tests/e2e/test_dev_stack.py runs the same seed against the real
services.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tollgate_api.devstack.seed import DEMO_ORG, DEMO_TEAM, SeedError, SeedTarget, seed_demo

API = "http://api.test"
ROUTER = "http://router.test"
TARGET = SeedTarget(
    api_url=API,
    router_url=ROUTER,
    router_admin_token="router-token",
    admin_email="admin@example.com",
    admin_password="pw",
)


class FakeAdmin:
    """Just enough of the router's and the api's admin APIs for the seed."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {
            "providers": [],
            "deployments": [],
            "pricing-plans": [],
            "organizations": [],
            "model-groups": [],
            "access-groups": [],
            "teams": [],
        }
        self.grants: dict[str, set[str]] = {}
        self.allocations: dict[str, int] = {}
        self.valid_keys: set[str] = set()
        self.posts: Counter[str] = Counter()

    def _issue(self) -> str:
        key = f"tg_live_{uuid.uuid4().hex}"
        self.valid_keys.add(key)
        return key

    def handle(self, request: httpx.Request) -> httpx.Response:
        host, path, method = request.url.host, request.url.path.rstrip("/"), request.method
        body = json.loads(request.content) if request.content else None
        auth = request.headers.get("authorization", "")
        if method == "POST":
            self.posts[path] += 1
        if host == "router.test":
            assert auth == "Bearer router-token"
        elif path == "/admin/auth/login":
            if body != {"email": "admin@example.com", "password": "pw"}:
                return httpx.Response(401, json={"title": "bad login"})
            return httpx.Response(200, json={"token": "session"})
        elif path == "/api/credits/balance":
            ok = auth.removeprefix("Bearer ") in self.valid_keys
            return httpx.Response(200 if ok else 401, json={})
        else:
            assert auth == "Bearer session"

        parts = path.split("/")[2:]  # after /admin
        collection = parts[0]
        if len(parts) == 1 and method == "GET":
            rows = self.rows[collection]
            org = request.url.params.get("organization_id")
            return httpx.Response(200, json=[r for r in rows if org is None or r["organization_id"] == org])
        if len(parts) == 1 and method == "POST":
            row = {"id": str(uuid.uuid4()), **body}
            if collection == "teams":
                self.grants[row["id"]] = set(body.get("access_groups", []))
                row = {**row, "api_key": self._issue()}
            self.rows[collection].append(row)
            return httpx.Response(201, json=row)
        if collection == "teams" and parts[2] == "access-groups":
            if method == "POST":
                self.grants[parts[1]].add(body["access_group_id"])
            return httpx.Response(200, json=[{"access_group_id": g} for g in self.grants[parts[1]]])
        if collection == "teams" and parts[2] == "credits":
            self.allocations.setdefault(body["idempotency_key"], body["amount"])
            return httpx.Response(201, json={"created": True})
        if collection == "teams" and parts[2] == "keys":
            return httpx.Response(201, json={"api_key": self._issue()})
        raise AssertionError(f"unexpected {method} {path}")


@pytest.fixture
def fake() -> FakeAdmin:
    return FakeAdmin()


def _seed(fake: FakeAdmin, demo_file: Path) -> Any:
    with httpx.Client(transport=httpx.MockTransport(fake.handle)) as client:
        return seed_demo(TARGET, demo_file=demo_file, client=client)


def test_seeding_twice_creates_everything_once_and_keeps_the_key(fake: FakeAdmin, tmp_path: Path) -> None:
    first = _seed(fake, tmp_path / "demo.env")
    second = _seed(fake, tmp_path / "demo.env")

    assert second == first
    assert [o["name"] for o in fake.rows["organizations"]] == [DEMO_ORG]
    assert [t["name"] for t in fake.rows["teams"]] == [DEMO_TEAM]
    for collection in ("providers", "deployments", "pricing-plans", "model-groups", "access-groups"):
        assert len(fake.rows[collection]) == 1, collection
    assert fake.posts["/admin/teams"] == 1
    assert sum(fake.allocations.values()) == 1000
    assert fake.rows["deployments"][0]["input_price_micro_usd_per_mtok"] > 0
    assert fake.rows["teams"][0]["access_groups"] == [fake.rows["access-groups"][0]["id"]]
    assert f"TOLLGATE_DEMO_TEAM_KEY={first.team_key}" in (tmp_path / "demo.env").read_text()


def test_a_lost_key_is_replaced_by_a_new_one(fake: FakeAdmin, tmp_path: Path) -> None:
    first = _seed(fake, tmp_path / "demo.env")
    (tmp_path / "demo.env").unlink()

    second = _seed(fake, tmp_path / "demo.env")

    assert second.team_id == first.team_id
    assert second.team_key != first.team_key
    assert second.team_key in fake.valid_keys


def test_a_key_that_no_longer_works_is_replaced(fake: FakeAdmin, tmp_path: Path) -> None:
    first = _seed(fake, tmp_path / "demo.env")
    fake.valid_keys.discard(first.team_key)  # revoked by an operator

    second = _seed(fake, tmp_path / "demo.env")

    assert second.team_key != first.team_key
    assert fake.posts["/admin/teams"] == 1


def test_a_wrong_operator_password_says_where_the_right_one_is(fake: FakeAdmin, tmp_path: Path) -> None:
    wrong = SeedTarget(API, ROUTER, "router-token", "admin@example.com", "not-it")
    with (
        httpx.Client(transport=httpx.MockTransport(fake.handle)) as client,
        pytest.raises(SeedError) as caught,
    ):
        seed_demo(wrong, demo_file=tmp_path / "demo.env", client=client)
    assert "answered 401" in str(caught.value)
    assert "TOLLGATE_BOOTSTRAP_ADMIN_EMAIL/_PASSWORD" in str(caught.value)
