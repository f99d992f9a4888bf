"""Operators and their bearer tokens (the only caller of ``operators`` / ``admin_tokens`` queries)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import admin_tokens as tq
from tollgate_api.db import operators as q
from tollgate_api.db.admin_tokens import AdminTokenAuthRow, AdminTokenListByOperatorRow
from tollgate_api.db.models import AdminToken, AdminTokenKind, Operator, OperatorRole
from tollgate_common.db import checked

__all__ = [
    "AdminToken",
    "AdminTokenAuthRow",
    "AdminTokenKind",
    "AdminTokenListByOperatorRow",
    "Operator",
    "OperatorRole",
]


async def create(
    conn: AsyncConnection[Any], *, email: str, password_hash: str, role: OperatorRole
) -> Operator:
    row = await checked(
        q.operator_create(conn, id=uuid.uuid4(), email=email, password_hash=password_hash, role=role)
    )
    assert row is not None
    return row


async def get(conn: AsyncConnection[Any], operator_id: uuid.UUID) -> Operator | None:
    return await checked(q.operator_get(conn, id=operator_id))


async def get_by_email(conn: AsyncConnection[Any], email: str) -> Operator | None:
    return await checked(q.operator_get_by_email(conn, email=email))


async def list_all(conn: AsyncConnection[Any]) -> list[Operator]:
    return await checked(q.operator_list(conn))


async def count(conn: AsyncConnection[Any]) -> int:
    row = await checked(q.operator_count(conn))
    return 0 if row is None else row.n


async def disable(conn: AsyncConnection[Any], operator_id: uuid.UUID) -> Operator | None:
    return await checked(q.operator_disable(conn, id=operator_id))


async def bootstrap_lock(conn: AsyncConnection[Any], lock_key: int) -> None:
    await checked(q.operator_bootstrap_lock(conn, lock_key=lock_key))


async def token_create(
    conn: AsyncConnection[Any],
    *,
    operator_id: uuid.UUID,
    kind: AdminTokenKind,
    name: str,
    token_hash: str,
    token_hint: str,
    expires_at: datetime | None,
) -> AdminToken:
    row = await checked(
        tq.admin_token_create(
            conn,
            id=uuid.uuid4(),
            operator_id=operator_id,
            kind=kind,
            name=name,
            token_hash=token_hash,
            token_hint=token_hint,
            expires_at=expires_at,
        )
    )
    assert row is not None
    return row


async def token_auth(conn: AsyncConnection[Any], token_hash: str) -> AdminTokenAuthRow | None:
    return await checked(tq.admin_token_auth(conn, token_hash=token_hash))


async def token_revoke(conn: AsyncConnection[Any], token_id: uuid.UUID) -> int:
    return await checked(tq.admin_token_revoke(conn, id=token_id))


async def token_revoke_by_hash(conn: AsyncConnection[Any], token_hash: str) -> int:
    return await checked(tq.admin_token_revoke_by_hash(conn, token_hash=token_hash))


async def token_revoke_by_operator(conn: AsyncConnection[Any], operator_id: uuid.UUID) -> int:
    return await checked(tq.admin_token_revoke_by_operator(conn, operator_id=operator_id))


async def token_list(conn: AsyncConnection[Any], operator_id: uuid.UUID) -> list[AdminTokenListByOperatorRow]:
    return await checked(tq.admin_token_list_by_operator(conn, operator_id=operator_id))


async def set_password_hash(conn: AsyncConnection[Any], operator_id: uuid.UUID, password_hash: str) -> None:
    await checked(q.operator_set_password_hash(conn, id=operator_id, password_hash=password_hash))
