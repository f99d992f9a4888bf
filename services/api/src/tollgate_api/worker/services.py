"""``provide_services()`` for actors: what a message needs, opened per message and closed after it.

A connection per message keeps actors independent of which event loop runs them (Dramatiq's AsyncIO
middleware owns that loop); aggregation is not a hot path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import AsyncConnection

from tollgate_api.settings import ApiSettings
from tollgate_api.worker.broker import current_settings
from tollgate_common.db import interpret_error


@dataclass(frozen=True, slots=True)
class WorkerServices:
    settings: ApiSettings
    conn: AsyncConnection[Any]


@asynccontextmanager
async def provide_services() -> AsyncIterator[WorkerServices]:
    settings = current_settings()
    try:
        conn = await AsyncConnection.connect(settings.database.url, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        raise interpret_error(exc) from exc
    try:
        yield WorkerServices(settings=settings, conn=conn)
    finally:
        await conn.close()
