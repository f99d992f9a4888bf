"""Operator authentication and roles: no /admin route answers without credentials, finance cannot
mutate, operators cannot touch users or routing; sessions, cookies, automation tokens, bootstrap."""

from __future__ import annotations

import asyncio
import re
import uuid
import warnings
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tollgate_api.app import TENANCY_HANDLERS
from tollgate_api.auth.guards import admin_guard
from tollgate_api.operators import service as operators
from tollgate_common.db import connection

MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC = {("/admin/auth/login", "POST")}
ADMIN_ONLY = ("/admin/users", "/admin/providers", "/admin/deployments", "/admin/worker")
# An operator's own session and automation tokens: every role manages its own.
SELF_SERVICE = {
    ("/admin/auth/logout", "POST"),
    ("/admin/tokens", "POST"),
    ("/admin/tokens/{token_id:uuid}/revoke", "POST"),
}


def admin_routes(app: Litestar) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in app.routes:
        if not route.path.startswith("/admin"):
            continue
        found.extend((route.path, m) for m in sorted(getattr(route, "methods", set()) - {"OPTIONS", "HEAD"}))
    return found


def concrete(path: str) -> str:
    path = re.sub(r"\{[^}:]+:uuid\}", lambda _: str(uuid.uuid4()), path)
    path = re.sub(r"\{[^}:]+:int\}", "1", path)
    return re.sub(r"\{[^}]+\}", "x", path)


async def request(client: AsyncTestClient[Litestar], method: str, path: str, token: str | None) -> Any:
    """One request with exactly these credentials (the client's default ones are set aside)."""
    saved = client.headers.pop("authorization", None)
    client.cookies.clear()
    try:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        body = {} if method in {"POST", "PUT", "PATCH"} else None
        return await client.request(method, concrete(path), headers=headers, json=body)
    finally:
        if saved is not None:
            client.headers["authorization"] = saved


def test_tenancy_handlers_use_no_deprecated_litestar_styles() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Litestar(route_handlers=TENANCY_HANDLERS, guards=[admin_guard])


async def test_no_admin_route_answers_without_credentials(api_app: Litestar, admin: Any) -> None:
    routes = admin_routes(api_app)
    assert len(routes) > 40
    client = admin
    for path, method in routes:
        if (path, method) in PUBLIC:
            continue
        response = await request(client, method, path, None)
        assert response.status_code == 401, f"{method} {path} answered {response.status_code} anonymously"
        assert response.headers["content-type"].startswith("application/problem+json")
        bogus = await request(client, method, path, "tgs_" + "x" * 43)
        assert bogus.status_code == 401, f"{method} {path} accepted a bogus token"


async def test_finance_reads_but_cannot_mutate_and_operator_stays_out_of_users_and_routing(
    api_app: Litestar, admin: Any, operator_login: Any
) -> None:
    tokens: dict[str, str] = {}
    for role in ("finance", "operator"):
        email = f"{role}@example.test"
        created = await admin.post(
            "/admin/users", json={"email": email, "password": "long enough password", "role": role}
        )
        assert created.status_code == 201, created.text
        tokens[role] = await operator_login(email, "long enough password")

    for path, method in admin_routes(api_app):
        if (path, method) in PUBLIC:
            continue
        if (path, method) in SELF_SERVICE:
            continue
        response = await request(admin, method, path, tokens["finance"])
        admin_only = path.startswith(ADMIN_ONLY)
        if method in MUTATING or admin_only:
            assert response.status_code == 403, f"finance could {method} {path}: {response.status_code}"
        else:
            assert response.status_code not in (401, 403), f"finance cannot read {path}"
        if admin_only:
            response = await request(admin, method, path, tokens["operator"])
            assert response.status_code == 403, f"operator could {method} {path}"


async def test_login_sessions_cookies_and_logout(api_app: Litestar, admin_credentials: Any) -> None:
    ADMIN_EMAIL, ADMIN_PASSWORD = admin_credentials.email, admin_credentials.password  # noqa: N806
    async with AsyncTestClient(api_app) as client:
        wrong = await client.post("/admin/auth/login", json={"email": ADMIN_EMAIL, "password": "nope"})
        unknown = await client.post(
            "/admin/auth/login", json={"email": "who@example.test", "password": "nope"}
        )
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json()["type"] == unknown.json()["type"]

        response = await client.post(
            "/admin/auth/login", json={"email": ADMIN_EMAIL.upper(), "password": ADMIN_PASSWORD}
        )
        assert response.status_code == 200
        token = response.json()["token"]
        assert "httponly" in response.headers["set-cookie"].lower()
        assert "tollgate_session=" in response.headers["set-cookie"]

        by_cookie = await client.get("/admin/auth/me")  # the cookie jar holds the session
        assert by_cookie.status_code == 200
        assert by_cookie.json()["role"] == "admin"

        client.cookies.clear()
        bearer = {"authorization": f"Bearer {token}"}
        assert (await client.get("/admin/auth/me", headers=bearer)).status_code == 200
        assert (await client.post("/admin/auth/logout", headers=bearer)).status_code == 204
        assert (await client.get("/admin/auth/me", headers=bearer)).status_code == 401


async def test_automation_tokens_are_shown_once_and_revocable(admin: Any) -> None:
    issued = await admin.post("/admin/tokens", json={"name": "ci"})
    assert issued.status_code == 201
    token = issued.json()["token"]
    assert token.startswith("tga_")
    listed = (await admin.get("/admin/tokens")).json()
    assert token not in str(listed)
    assert [t["name"] for t in listed] == ["ci"]

    automation = {"authorization": f"Bearer {token}"}
    assert (await admin.get("/admin/teams", headers=automation)).status_code == 200
    await admin.post(f"/admin/tokens/{issued.json()['id']}/revoke")
    assert (await admin.get("/admin/teams", headers=automation)).status_code == 401


async def test_disabled_operator_loses_access_at_once(admin: Any, operator_login: Any) -> None:
    created = (
        await admin.post(
            "/admin/users",
            json={"email": "temp@example.test", "password": "long enough password", "role": "operator"},
        )
    ).json()
    token = await operator_login("temp@example.test", "long enough password")
    headers = {"authorization": f"Bearer {token}"}
    assert (await admin.get("/admin/teams", headers=headers)).status_code == 200
    assert (await admin.post(f"/admin/users/{created['id']}/disable")).status_code == 200
    assert (await admin.get("/admin/teams", headers=headers)).status_code == 401
    relogin = await admin.post(
        "/admin/auth/login", json={"email": "temp@example.test", "password": "long enough password"}
    )
    assert relogin.status_code == 401


async def test_bootstrap_creates_one_admin_even_when_replicas_race(
    api_app: Litestar, pool: Any, admin: Any, admin_credentials: Any
) -> None:
    results = await asyncio.gather(
        *(operators.bootstrap_admin(pool, email=f"other{i}@example.test", password="pw") for i in range(5))
    )
    assert not any(results)  # the app's own start-up already created the admin
    async with connection(pool) as conn:
        cur = await conn.execute("SELECT email, role FROM api.operators")
        assert await cur.fetchall() == [(admin_credentials.email, "admin")]
        await conn.execute("DELETE FROM api.admin_tokens")
        await conn.execute("DELETE FROM api.operators")
    results = await asyncio.gather(
        *(operators.bootstrap_admin(pool, email=f"racer{i}@example.test", password="pw") for i in range(5))
    )
    assert sum(results) == 1
    async with connection(pool) as conn:
        cur = await conn.execute("SELECT count(*) FROM api.operators WHERE role = 'admin'")
        assert await cur.fetchone() == (1,)


async def test_passwords_are_stored_as_argon2id(
    api_app: Litestar, pool: Any, admin: Any, admin_credentials: Any
) -> None:
    async with connection(pool) as conn:
        cur = await conn.execute("SELECT password_hash FROM api.operators")
        row = await cur.fetchone()
    assert row is not None
    assert row[0].startswith("$argon2id$")
    assert admin_credentials.password not in row[0]


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "tgs_nope"])
async def test_malformed_authorization_is_refused(admin: Any, header: str) -> None:
    response = await admin.get("/admin/teams", headers={"authorization": header})
    assert response.status_code == 401


async def test_repeated_failed_logins_are_throttled_across_replicas(
    api_app: Litestar, app_factory: Any, admin_credentials: Any
) -> None:
    wrong = {"email": admin_credentials.email, "password": "wrong"}
    async with AsyncTestClient(api_app) as client:
        for _ in range(10):
            assert (await client.post("/admin/auth/login", json=wrong)).status_code == 401
    async with AsyncTestClient(app_factory()) as other:
        throttled = await other.post(
            "/admin/auth/login", json={**wrong, "password": admin_credentials.password}
        )
    assert throttled.status_code == 429
    assert int(throttled.headers["retry-after"]) > 0


async def test_finance_manages_its_own_session_and_tokens(admin: Any, operator_login: Any) -> None:
    await admin.post(
        "/admin/users",
        json={"email": "fin@example.test", "password": "long enough password", "role": "finance"},
    )
    token = await operator_login("fin@example.test", "long enough password")
    headers = {"authorization": f"Bearer {token}"}
    issued = await admin.post("/admin/tokens", json={"name": "exports"}, headers=headers)
    assert issued.status_code == 201
    mine = (await admin.get("/admin/tokens", headers=headers)).json()
    assert [t["name"] for t in mine] == ["exports"]
    assert (await admin.get("/admin/tokens")).json() == []  # the admin's own list is separate
    assert (await admin.post("/admin/auth/logout", headers=headers)).status_code == 204
    assert (await admin.get("/admin/teams", headers=headers)).status_code == 401
