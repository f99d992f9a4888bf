"""Monthly partitions of ``api.llm_calls`` (migration 0017): create the coming months, empty DEFAULT.

``api.llm_calls`` is range-partitioned on ``created_at`` by calendar month in UTC; a partition is named
``llm_calls_yYYYYmMM``. The DEFAULT partition catches a row whose month has no partition yet, so an
insert never fails. :func:`ensure_llm_call_partitions` is the upkeep, run by ``tollgate migrate`` and
daily by the worker: it creates every missing month from the current one to ``months_ahead`` months
ahead, plus every month that has rows sitting in DEFAULT, moving those rows into their month. It is
idempotent and safe to run concurrently (one transaction-scoped advisory lock serialises runs).

This is DDL with computed identifiers, which the generated query layer cannot express, so the
statements live here; they touch nothing but ``api.llm_calls`` partitions.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any, Final

import psycopg
import structlog
from psycopg import AsyncConnection, sql

from tollgate_common.db import interpret_error

__all__ = ["ensure_llm_call_partitions", "month_start", "partition_name"]

_log = structlog.get_logger("tollgate.usage.partitions")

SCHEMA: Final = "api"
PARENT: Final = "llm_calls"
DEFAULT_PARTITION: Final = "llm_calls_default"
_LOCK_ID: Final = int.from_bytes(
    hashlib.sha256(b"tollgate:llm_calls_partitions").digest()[:8], "big", signed=True
)


def month_start(moment: datetime.datetime) -> datetime.datetime:
    """The first instant (UTC) of the calendar month holding ``moment``."""
    utc = moment.astimezone(datetime.UTC)
    return datetime.datetime(utc.year, utc.month, 1, tzinfo=datetime.UTC)


def _add_months(month: datetime.datetime, months: int) -> datetime.datetime:
    index = month.year * 12 + month.month - 1 + months
    return datetime.datetime(index // 12, index % 12 + 1, 1, tzinfo=datetime.UTC)


def partition_name(month: datetime.datetime) -> str:
    start = month_start(month)
    return f"{PARENT}_y{start.year:04d}m{start.month:02d}"


async def _existing_partitions(conn: AsyncConnection[Any]) -> set[str]:
    cursor = await conn.execute(
        """
        SELECT child.relname
        FROM pg_inherits
        JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
        JOIN pg_class child ON child.oid = pg_inherits.inhrelid
        JOIN pg_namespace ns ON ns.oid = parent.relnamespace
        WHERE ns.nspname = %s AND parent.relname = %s
        """,
        (SCHEMA, PARENT),
    )
    return {str(row[0]) for row in await cursor.fetchall()}


async def _months_in_default(conn: AsyncConnection[Any]) -> list[datetime.datetime]:
    cursor = await conn.execute(
        sql.SQL(
            "SELECT DISTINCT date_trunc('month', created_at AT TIME ZONE 'UTC') FROM {} ORDER BY 1"
        ).format(sql.Identifier(SCHEMA, DEFAULT_PARTITION))
    )
    return [row[0].replace(tzinfo=datetime.UTC) for row in await cursor.fetchall()]


async def _create_month(conn: AsyncConnection[Any], month: datetime.datetime, *, has_strays: bool) -> None:
    """One month's partition. With rows of that month in DEFAULT, they move in first: Postgres refuses
    a new partition whose range still has rows in DEFAULT."""
    name = sql.Identifier(SCHEMA, partition_name(month))
    parent = sql.Identifier(SCHEMA, PARENT)
    bounds = (month, _add_months(month, 1))
    if not has_strays:
        await conn.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                name, parent, sql.Literal(bounds[0]), sql.Literal(bounds[1])
            )
        )
        return
    default = sql.Identifier(SCHEMA, DEFAULT_PARTITION)
    await conn.execute(
        sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)").format(name, parent)
    )
    await conn.execute(
        sql.SQL(
            "WITH moved AS (DELETE FROM {} WHERE created_at >= %s AND created_at < %s RETURNING *) "
            "INSERT INTO {} SELECT * FROM moved"
        ).format(default, name),
        bounds,
    )
    await conn.execute(
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            parent, name, sql.Literal(bounds[0]), sql.Literal(bounds[1])
        )
    )


async def ensure_llm_call_partitions(
    conn: AsyncConnection[Any],
    *,
    months_ahead: int = 3,
    months_back: int = 0,
    now: datetime.datetime | None = None,
) -> list[str]:
    """Create missing monthly partitions (``months_back`` months ago to ``months_ahead`` ahead of the
    current month, and any month with rows in DEFAULT, whose rows move into it). Returns the names
    created, oldest first; ``[]`` when all were there. Runs in its own transaction (a savepoint when
    ``conn`` is already in one)."""
    if months_ahead < 0 or months_back < 0:
        raise ValueError("months_ahead and months_back must be >= 0")
    current = month_start(now or datetime.datetime.now(datetime.UTC))
    created: list[str] = []
    try:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
            existing = await _existing_partitions(conn)
            strays = set(await _months_in_default(conn))
            wanted = {_add_months(current, i) for i in range(-months_back, months_ahead + 1)} | strays
            for month in sorted(wanted):
                name = partition_name(month)
                if name in existing:  # rows never reach DEFAULT while their month has a partition
                    continue
                await _create_month(conn, month, has_strays=month in strays)
                created.append(name)
    except psycopg.Error as exc:
        raise interpret_error(exc) from exc
    if created:
        _log.info("llm_call_partitions_created", partitions=created)
    return created
