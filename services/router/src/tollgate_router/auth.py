"""The admin API's guard: a bearer service token (``TOLLGATE_ROUTER_ADMIN_TOKEN``), compared in constant
time. With no token configured, the admin API refuses every request."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.types import Guard

from tollgate_common.crypto import constant_time_equals
from tollgate_common.env import Secret
from tollgate_common.errors import Unauthorized

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="tollgate-router-admin"'}


class AdminUnauthorized(Unauthorized):
    slug, title = "admin-unauthorized", "Missing or invalid admin token"


def admin_guard(token: Secret) -> Guard:
    expected = token.get()

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _handler: BaseRouteHandler) -> None:
        if not expected:
            raise AdminUnauthorized(
                "The admin API is disabled: no admin token is configured.", headers=_CHALLENGE
            )
        scheme, _, value = connection.headers.get("authorization", "").partition(" ")
        # compare even when the scheme is wrong, so timing says nothing about the token
        matches = constant_time_equals(value.strip(), expected)
        if scheme.lower() != "bearer" or not matches:
            raise AdminUnauthorized(headers=_CHALLENGE)

    return guard
