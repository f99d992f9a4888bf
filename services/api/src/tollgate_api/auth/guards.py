"""Operator authentication and role guards for ``/admin``.

:func:`admin_guard` is installed on the whole app: every route whose path starts with ``/admin``
or ``/dashboard`` (the operator UI, same rules) requires an operator (bearer token in
``Authorization`` or the dashboard's ``tollgate_session``
HttpOnly cookie) unless its handler opts out with ``opt={"public": True}`` (login only), and
``finance`` may only read — except its own session and tokens (handlers with
``opt={"self_service": True}``: logout, issuing and revoking one's own automation tokens).
:func:`require_roles` narrows a controller or handler further (``guards=[require_roles("admin")]``).
Guards raise domain errors (401 / 403 problems).
"""

from __future__ import annotations

from typing import Any, Final

import structlog
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from tollgate_api.audit.service import Actor
from tollgate_api.errors import RoleRequired, Unauthorized
from tollgate_api.operators import service as operators
from tollgate_api.operators.service import OperatorPrincipal

SESSION_COOKIE: Final = "tollgate_session"
_STATE_KEY: Final = "operator"
_READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_ALL_ROLES: Final = ("admin", "operator", "finance")


def bearer_or_cookie(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    header = connection.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        return None
    return connection.cookies.get(SESSION_COOKIE) or None


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> OperatorPrincipal:
    cached = connection.scope.get("state", {}).get(_STATE_KEY)
    if isinstance(cached, OperatorPrincipal):
        return cached
    token = bearer_or_cookie(connection)
    if token is None:
        raise Unauthorized("Operator credentials required.", headers={"WWW-Authenticate": "Bearer"})
    principal = await operators.authenticate(connection.app.state["pool"], token)
    connection.scope.setdefault("state", {})[_STATE_KEY] = principal
    structlog.contextvars.bind_contextvars(operator_id=str(principal.operator_id))
    return principal


async def admin_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    if not connection.scope["path"].startswith(("/admin", "/dashboard")):
        return
    if handler.opt.get("public"):
        return
    principal = await authenticate(connection)
    if (
        principal.role == "finance"
        and connection.scope.get("method", "GET") not in _READ_METHODS
        and not handler.opt.get("self_service")
    ):
        raise RoleRequired("The finance role is read-only.")


def require_roles(*roles: str) -> Guard:
    """A guard admitting only operators with one of ``roles`` (``admin`` always qualifies)."""
    allowed = frozenset(roles) | {"admin"}
    unknown = allowed - set(_ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = await authenticate(connection)
        if principal.role not in allowed:
            raise RoleRequired()

    return guard


def current_operator(connection: ASGIConnection[Any, Any, Any, Any]) -> OperatorPrincipal:
    principal = connection.scope.get("state", {}).get(_STATE_KEY)
    if not isinstance(principal, OperatorPrincipal):
        raise Unauthorized("Operator credentials required.")
    return principal


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    client = connection.scope.get("client")
    return str(client[0]) if client else None


def actor_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    """The audit actor of an authenticated admin request."""
    return Actor(current_operator(connection).actor_name, client_ip(connection))
