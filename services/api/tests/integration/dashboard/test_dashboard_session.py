"""Dashboard sessions: the login form and its CSRF, cookie flags, redirects to login, the login
throttle, logout, and changing one's password."""

from __future__ import annotations

from typing import Any


async def test_pages_redirect_to_login_without_a_session(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = dash.anonymous()
        response = await client.get("/dashboard/teams")
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/login?next=/dashboard/teams"
        htmx = await client.get("/dashboard/teams", headers={"HX-Request": "true"})
        assert htmx.headers["HX-Redirect"].startswith("/dashboard/login")
        assert (await client.get("/dashboard/static/app.css")).status_code == 200


async def test_login_sets_a_strict_httponly_session_cookie(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = dash.anonymous()
        response = await dash.log_in(client, dash.admin_email, dash.admin_password)
        assert response.status_code == 303
        assert response.headers["location"] == "/dashboard/"
        session = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("tollgate_session=")
        )
        assert "HttpOnly" in session
        assert "samesite=strict" in session.lower()
        assert "Secure" not in session  # plain http here; https requests get Secure
        page = await client.get("/dashboard/")
        assert page.status_code == 200
        assert dash.admin_email in page.text


async def test_session_cookie_is_secure_over_https(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = dash.anonymous()
        client.base_url = "https://dash.test"
        response = await dash.log_in(client, dash.admin_email, dash.admin_password)
        session = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("tollgate_session=")
        )
        assert "Secure" in session


async def test_login_without_the_csrf_token_is_refused(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = dash.anonymous()
        await client.get("/dashboard/login")
        response = await client.post(
            "/dashboard/login", data={"email": dash.admin_email, "password": dash.admin_password}
        )
        assert response.status_code == 403
        assert "tollgate_session" not in response.headers.get("set-cookie", "")


async def test_wrong_password_shows_the_form_again_and_the_throttle_stops_guessing(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = dash.anonymous()
        wrong = await dash.log_in(client, dash.admin_email, "not the password")
        assert wrong.status_code == 401
        assert "Wrong email or password" in wrong.text
        for _ in range(10):
            await dash.log_in(client, dash.admin_email, "not the password")
        blocked = await dash.log_in(client, dash.admin_email, dash.admin_password)
        assert blocked.status_code == 429
        assert "Retry-After" in blocked.headers


async def test_logout_revokes_the_session(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = await dash.browser("admin")
        token = client.cookies["tollgate_session"]
        response = await dash.submit(client, "/dashboard/", "/dashboard/logout")
        assert response.status_code == 303
        # the old token no longer works anywhere, even if a copy was kept
        replay = dash.anonymous()
        replay.cookies.set("tollgate_session", token)
        assert (await replay.get("/dashboard/")).status_code == 303
        assert (await replay.get("/admin/auth/me")).status_code == 401


async def test_password_change_needs_the_current_password(dashboard: Any) -> None:
    async with dashboard() as dash:
        email = await dash.operator("finance")
        client = dash.anonymous()
        await dash.log_in(client, email, dash.password)
        fields = {"new_password": "another long passphrase", "confirm_password": "another long passphrase"}
        wrong = await dash.submit(
            client, "/dashboard/password", "/dashboard/password", current_password="nope", **fields
        )
        assert wrong.status_code == 400
        ok = await dash.submit(
            client, "/dashboard/password", "/dashboard/password", current_password=dash.password, **fields
        )
        assert ok.status_code == 200
        assert "Password changed" in ok.text
        again = dash.anonymous()
        assert (await dash.log_in(again, email, dash.password)).status_code == 401
        assert (await dash.log_in(again, email, "another long passphrase")).status_code == 303


async def test_next_parameter_cannot_redirect_off_site(dashboard: Any) -> None:
    async with dashboard() as dash:
        client = dash.anonymous()
        page = await client.get("/dashboard/login?next=https://evil.example/")
        response = await client.post(
            "/dashboard/login",
            data={
                "_csrf": dash.csrf_of(page.text),
                "email": dash.admin_email,
                "password": dash.admin_password,
                "next": "//evil.example/",
            },
        )
        assert response.headers["location"] == "/dashboard/"
