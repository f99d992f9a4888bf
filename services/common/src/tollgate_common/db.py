"""Postgres: the pooled async connections every service uses, and one driver-error mapping.

Repositories call generated query functions inside ``async with pool.connection()`` (or a
transaction) and wrap driver failures with :func:`interpret_error`, so services only ever see
``NotFound`` / ``Conflict`` / ``Unavailable`` / ``BadRequest`` from the data layer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import msgspec
import psycopg
import psycopg.errors
from psycopg import AsyncConnection
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from tollgate_common.errors import BadRequest, Conflict, TollgateError, Unavailable

T = TypeVar("T")

_json_encoder = msgspec.json.Encoder()
set_json_dumps(_json_encoder.encode)
set_json_loads(msgspec.json.decode)


def make_pool(
    url: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout_s: float = 5.0,
    name: str = "tollgate",
    search_path: str | None = None,
) -> AsyncConnectionPool[AsyncConnection[Any]]:
    """An unopened pool; the lifespan opens it (``await pool.open()``) and closes it in ``finally``."""
    # JIT off: every query here is OLTP or reads small rollups, where compiling costs tens of
    # milliseconds and saves nothing (measured on the margin reports, ADR 0007).
    options = ["-c jit=off"]
    if search_path:
        options.append(f"-c search_path={search_path}")
    kwargs: dict[str, Any] = {"autocommit": True, "options": " ".join(options)}
    return AsyncConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        name=name,
        open=False,
        kwargs=kwargs,
        reconnect_timeout=30.0,
    )


def interpret_error(exc: BaseException) -> TollgateError:
    """Map a driver/pool exception to a domain error (river's ``interpretError``)."""
    if isinstance(exc, TollgateError):
        return exc
    if isinstance(exc, psycopg.errors.UniqueViolation):
        return Conflict("The resource already exists.")
    if isinstance(exc, psycopg.errors.ForeignKeyViolation):
        return Conflict("A referenced resource does not exist or is still in use.")
    if isinstance(exc, psycopg.errors.CheckViolation | psycopg.errors.ExclusionViolation):
        return Conflict("The change would violate a rule of the stored data.")
    if isinstance(exc, psycopg.errors.SerializationFailure | psycopg.errors.DeadlockDetected):
        return Unavailable("A concurrent change got in the way; retry.", retry_after_s=1)
    if isinstance(exc, psycopg.errors.DataError):
        return BadRequest("A value is out of range or malformed.")
    if isinstance(exc, PoolTimeout | psycopg.OperationalError):
        return Unavailable("The database is unavailable.", retry_after_s=2)
    return TollgateError()


@asynccontextmanager
async def transaction(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
) -> AsyncIterator[AsyncConnection[Any]]:
    """A connection inside one transaction; driver errors leave as domain errors."""
    try:
        async with pool.connection() as conn, conn.transaction():
            yield conn
    except (psycopg.Error, PoolTimeout) as exc:
        raise interpret_error(exc) from exc


@asynccontextmanager
async def connection(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
) -> AsyncIterator[AsyncConnection[Any]]:
    """An autocommit connection; driver errors leave as domain errors."""
    try:
        async with pool.connection() as conn:
            yield conn
    except (psycopg.Error, PoolTimeout) as exc:
        raise interpret_error(exc) from exc


async def ping(pool: AsyncConnectionPool[AsyncConnection[Any]], *, timeout_s: float = 2.0) -> None:
    async with pool.connection(timeout=timeout_s) as conn:
        await conn.execute("SELECT 1")


def with_retry_on_serialization(fn: Callable[..., T]) -> Callable[..., T]:
    """Marker for service functions whose transaction is safe to retry (documentation only)."""
    return fn


async def checked(awaitable: Awaitable[T]) -> T:
    """Await one query; driver errors leave as domain errors (for repositories given a connection)."""
    try:
        return await awaitable
    except (psycopg.Error, PoolTimeout) as exc:
        raise interpret_error(exc) from exc
