"""The dashboard's web plumbing: Jinja2 environment, page rendering, CSRF, form parsing and the
exception handler that turns domain errors into HTML pages.

CSRF is a synchronizer token that needs no storage: ``HMAC-SHA256(session token, "csrf")``. The
session token lives only in the HttpOnly cookie, so another site can neither read nor forge it.
Before login (no session yet) the login form is protected by a double-submit cookie. Every unsafe
request under ``/dashboard`` is checked in one ``before_request`` hook (:func:`csrf_check`), so a
handler cannot forget it; forms send ``_csrf``, HTMX requests may send ``X-CSRF-Token``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo

import jinja2
import structlog
from litestar import Request, Response
from litestar.datastructures import Cookie
from litestar.exceptions import HTTPException
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from tollgate_api.auth.guards import SESSION_COOKIE
from tollgate_api.dashboard import helpers
from tollgate_api.errors import BadRequest, Forbidden, TollgateError, Unauthorized
from tollgate_api.operators.service import OperatorPrincipal

_log = structlog.get_logger("tollgate.dashboard")

PREFIX: Final = "/dashboard"
LOGIN_CSRF_COOKIE: Final = "tollgate_login_csrf"
TZ_COOKIE: Final = "tollgate_tz"
_SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_OPERATOR_KEY: Final = "operator"  # where tollgate_api.auth.guards caches the principal


def dashboard_dir() -> Path:
    """``dashboard/`` at the repository root (templates and static files)."""
    return Path(__file__).resolve().parents[5] / "dashboard"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(dashboard_dir() / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = helpers.money
    env.filters["num"] = helpers.num
    env.globals["pct"] = helpers.pct_bps
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    env = _environment()
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(env))


def principal_of(request: Request[Any, Any, Any]) -> OperatorPrincipal | None:
    principal = request.scope.get("state", {}).get(_OPERATOR_KEY)
    return principal if isinstance(principal, OperatorPrincipal) else None


def csrf_token(request: Request[Any, Any, Any]) -> str:
    session = request.cookies.get(SESSION_COOKIE)
    if session:
        return hmac.new(session.encode(), b"tollgate-dashboard-csrf", hashlib.sha256).hexdigest()
    return request.cookies.get(LOGIN_CSRF_COOKIE) or ""


def new_login_csrf() -> str:
    return secrets.token_urlsafe(32)


def cookie(request: Request[Any, Any, Any], key: str, value: str, *, max_age: int | None) -> Cookie:
    """A dashboard cookie: HttpOnly, SameSite=Strict, Secure when the request came over https."""
    return Cookie(
        key=key,
        value=value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )


async def csrf_check(request: Request[Any, Any, Any]) -> None:
    """``before_request`` of every dashboard route: unsafe methods need the CSRF token."""
    if request.method in _SAFE:
        return
    sent = request.headers.get("x-csrf-token")
    if not sent:
        form = await request.form()
        value = form.get("_csrf")
        sent = value if isinstance(value, str) else None
    expected = csrf_token(request)
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        _log.info("dashboard_csrf_refused", path=request.url.path)
        raise Forbidden("The form expired or did not come from this site; reload the page and try again.")


def tz_of(request: Request[Any, Any, Any]) -> ZoneInfo:
    return helpers.zone(request.cookies.get(TZ_COOKIE))


def page(
    request: Request[Any, Any, Any],
    template: str,
    *,
    status_code: int = 200,
    cookies: list[Cookie] | None = None,
    **context: Any,
) -> Template:
    """Render ``template`` with what every page needs: the operator, CSRF token, zone and role flags."""
    principal = principal_of(request)
    tz = tz_of(request)
    context.setdefault("flash", None)
    csrf = context.pop("csrf", None) or csrf_token(request)
    return Template(
        template_name=template,
        context={
            **context,
            "me": principal,
            "can_write": principal is not None and principal.role != "finance",
            "is_admin": principal is not None and principal.role == "admin",
            "csrf": csrf,
            "tz": tz,
            "when": lambda value: helpers.when(value, tz),
            "path": request.url.path,
        },
        status_code=status_code,
        cookies=cookies,
        headers=dict(SECURITY_HEADERS),
    )


SECURITY_HEADERS: Final = {
    # Everything is served from this origin: no CDN, no inline script, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def see_other(url: str) -> Redirect:
    """POST → redirect → GET (303), also understood by HTMX-boosted forms."""
    return Redirect(path=url, status_code=303)


# ---------------------------------------------------------------- forms


def text(form: Any, name: str, *, required: bool = True, max_len: int = 500) -> str:
    value = form.get(name)
    value = value.strip() if isinstance(value, str) else ""
    if required and not value:
        raise BadRequest(f"{name.replace('_', ' ').capitalize()} is required.")
    if len(value) > max_len:
        raise BadRequest(f"{name.replace('_', ' ').capitalize()} is too long.")
    return value


def integer(form: Any, name: str, *, required: bool = True, minimum: int | None = None) -> int | None:
    raw = text(form, name, required=required, max_len=40).replace(",", "").replace("_", "")
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name.replace('_', ' ').capitalize()} must be a whole number.") from None
    if minimum is not None and value < minimum:
        raise BadRequest(f"{name.replace('_', ' ').capitalize()} must be at least {minimum}.")
    return value


# ---------------------------------------------------------------- errors


def _wants_redirect(request: Request[Any, Any, Any]) -> bool:
    return request.method in _SAFE and not request.url.path.startswith(PREFIX + "/static")


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Domain and framework errors under ``/dashboard`` as HTML pages with the same status codes."""
    if isinstance(exc, TollgateError):
        status, title, detail, headers = exc.status, exc.title, exc.detail, dict(exc.headers)
    elif isinstance(exc, HTTPException):
        status, title, detail, headers = exc.status_code, "Request refused", str(exc.detail), {}
    else:
        _log.exception("dashboard_unhandled_error")
        status, title, detail, headers = 500, "Internal error", "Something went wrong; it was logged.", {}
    if isinstance(exc, Unauthorized) and _wants_redirect(request):
        target = f"{PREFIX}/login?next={request.url.path}"
        if request.headers.get("hx-request"):
            return Response(None, status_code=204, headers={"HX-Redirect": target})
        return Redirect(path=target, status_code=303)
    response = page(request, "error.html", status_code=status, title=title, detail=detail)
    if "Retry-After" in headers:
        response.headers["Retry-After"] = headers["Retry-After"]
    return response


def exception_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    return error_page(request, exc)
