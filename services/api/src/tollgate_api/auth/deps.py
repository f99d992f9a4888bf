"""Typed access to the long-lived resources the composition root keeps in ``app.state``."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.auth.revocation import Revocations
from tollgate_api.auth.throttle import LoginThrottle
from tollgate_api.routeradmin.client import RouterAdmin
from tollgate_api.settings import ApiSettings
from tollgate_common.crypto import Keyring


def pool_of(connection: ASGIConnection[Any, Any, Any, Any]) -> AsyncConnectionPool[AsyncConnection[Any]]:
    pool: AsyncConnectionPool[AsyncConnection[Any]] = connection.app.state["pool"]
    return pool


def router_admin_of(connection: ASGIConnection[Any, Any, Any, Any]) -> RouterAdmin:
    router: RouterAdmin = connection.app.state["router_admin"]
    return router


def keyring_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Keyring | None:
    keyring: Keyring | None = connection.app.state["keyring"]
    return keyring


def revocations_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Revocations:
    revocations: Revocations = connection.app.state["revocations"]
    return revocations


def settings_of(connection: ASGIConnection[Any, Any, Any, Any]) -> ApiSettings:
    settings: ApiSettings = connection.app.state["settings"]
    return settings


def login_throttle_of(connection: ASGIConnection[Any, Any, Any, Any]) -> LoginThrottle:
    return LoginThrottle(connection.app.state["redis"], prefix=settings_of(connection).redis.prefix)
