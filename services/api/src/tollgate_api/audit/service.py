"""The audit log: every admin mutation writes one row in the same transaction as the change.

Rows carry the actor (``operator:<email>`` or ``token:<id>``), the action (``team.create`` …), the
target, and before/after snapshots with secrets removed (:func:`redact`), the time and the client IP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import msgspec
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import repository
from tollgate_common.db import connection, transaction

SECRET_FIELDS: Final = frozenset(
    {
        "password",
        "password_hash",
        "token",
        "token_hash",
        "key_hash",
        "api_key",
        "virtual_key",
        "virtual_key_encrypted",
        "api_key_encrypted",
        "secret",
    }
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it and from where; passed from controllers to every mutating service function."""

    name: str
    ip: str | None = None


SYSTEM = Actor("system")


class AuditEntry(msgspec.Struct, frozen=True):
    id: int
    actor: str
    action: str
    target_type: str
    target_id: str | None
    before: Any  # may be null; "Any | None" documents a oneOf that null matches twice
    after: Any
    ip: str | None
    created_at: datetime


def redact(value: Any) -> Any:
    """A JSON-able copy of ``value`` without secret fields (structs and dataclasses become dicts)."""
    if value is None:
        return None
    plain = msgspec.to_builtins(value)
    return _strip(plain)


def _strip(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip(v) for k, v in value.items() if k not in SECRET_FIELDS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


async def record(
    conn: AsyncConnection[Any],
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: object | None,
    before: Any = None,
    after: Any = None,
) -> None:
    await repository.add(
        conn,
        actor=actor.name,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=redact(before),
        after=redact(after),
        ip=actor.ip,
    )


async def list_entries(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    *,
    target_type: str | None = None,
    target_id: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[AuditEntry]:
    async with connection(pool) as conn:
        rows = await repository.list_entries(
            conn, target_type=target_type, target_id=target_id, before_id=before_id, limit=limit
        )
    return [AuditEntry(**msgspec.structs.asdict(row)) for row in rows]


async def record_alone(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    actor: Actor,
    action: str,
    *,
    target_type: str,
    target_id: object | None,
    before: Any = None,
    after: Any = None,
) -> None:
    """An audit row in its own transaction, for changes made outside this database (router admin)."""
    async with transaction(pool) as conn:
        await record(
            conn, actor, action, target_type=target_type, target_id=target_id, before=before, after=after
        )
