"""Login, logout and password change for the dashboard (cookie sessions from the operator service)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery

from tollgate_api.auth.deps import login_throttle_of, pool_of, settings_of
from tollgate_api.auth.guards import SESSION_COOKIE, actor_of, client_ip, current_operator
from tollgate_api.dashboard import web
from tollgate_api.errors import InvalidCredentials
from tollgate_api.operators import service as operators


def _next(target: str | None) -> str:
    # Only local dashboard paths: never an open redirect.
    if target and target.startswith(web.PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return web.PREFIX + "/"


class SessionController(Controller):
    path = web.PREFIX

    @get("/login", opt={"public": True})
    async def login_form(
        self, request: Request[Any, Any, Any], next: FromQuery[str | None] = None
    ) -> Response[Any]:
        token = request.cookies.get(web.LOGIN_CSRF_COOKIE) or web.new_login_csrf()
        return web.page(
            request,
            "login.html",
            next=_next(next),
            error=None,
            email="",
            csrf=web.csrf_token(request) if request.cookies.get(SESSION_COOKIE) else token,
            cookies=[web.cookie(request, web.LOGIN_CSRF_COOKIE, token, max_age=3600)],
        )

    @post("/login", opt={"public": True})
    async def login(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        email = web.text(form, "email", max_len=254)
        password = web.text(form, "password", max_len=1024)
        target = _next(web.text(form, "next", required=False))
        ttl_s = settings_of(request).auth.session_ttl_s
        try:
            token, _ = await operators.login(
                pool_of(request),
                login_throttle_of(request),
                email=email,
                password=password,
                ttl_s=ttl_s,
                ip=client_ip(request),
            )
        except InvalidCredentials:
            return web.page(
                request,
                "login.html",
                status_code=401,
                next=target,
                email=email,
                error="Wrong email or password.",
            )
        redirect = web.see_other(target)
        redirect.cookies.append(web.cookie(request, SESSION_COOKIE, token, max_age=ttl_s))
        redirect.cookies.append(web.cookie(request, web.LOGIN_CSRF_COOKIE, "", max_age=0))
        return redirect

    @post("/logout", opt={"self_service": True})
    async def logout(self, request: Request[Any, Any, Any]) -> Response[Any]:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            await operators.logout(pool_of(request), actor_of(request), token)
        redirect = web.see_other(web.PREFIX + "/login")
        redirect.cookies.append(web.cookie(request, SESSION_COOKIE, "", max_age=0))
        return redirect

    @get("/password", opt={"self_service": True})
    async def password_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        return web.page(request, "password.html", error=None, done=False)

    @post("/password", opt={"self_service": True})
    async def change_password(self, request: Request[Any, Any, Any]) -> Response[Any]:
        form = await request.form()
        current = web.text(form, "current_password", max_len=1024)
        new = web.text(form, "new_password", max_len=1024)
        if new != web.text(form, "confirm_password", max_len=1024):
            return web.page(
                request, "password.html", status_code=400, error="The new passwords differ.", done=False
            )
        try:
            await operators.change_password(
                pool_of(request), current_operator(request), actor_of(request), current=current, new=new
            )
        except InvalidCredentials as exc:
            return web.page(request, "password.html", status_code=400, error=exc.detail, done=False)
        return web.page(request, "password.html", error=None, done=True)
