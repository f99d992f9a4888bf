"""Balance rows and ledger entries (the only caller of the generated ``ledger`` queries)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import credit_grants as grants_q
from tollgate_api.db import ledger as q
from tollgate_api.db.credit_grants import CreditGrantLedgerSinceRow
from tollgate_api.db.ledger import LedgerCheckRow
from tollgate_api.db.models import CreditGrant, LedgerEntry, LedgerKind, TeamBalance
from tollgate_common.db import checked

__all__ = [
    "CreditGrant",
    "CreditGrantLedgerSinceRow",
    "LedgerCheckRow",
    "LedgerEntry",
    "LedgerKind",
    "TeamBalance",
    "add_entry",
    "apply",
    "check",
    "create_balance",
    "entry_by_key",
    "get_balance",
    "grant_create",
    "grant_get",
    "grant_ledger_since",
    "grant_list_by_team",
    "grant_mark_expired",
    "grant_teams_due",
    "job_open_hold",
    "list_entries",
    "lock_balance",
    "set_overdraft",
]


async def create_balance(conn: AsyncConnection[Any], *, team_id: uuid.UUID, overdraft_limit: int) -> None:
    await checked(q.team_balance_create(conn, team_id=team_id, overdraft_limit=overdraft_limit))


async def get_balance(conn: AsyncConnection[Any], *, team_id: uuid.UUID) -> TeamBalance | None:
    return await checked(q.team_balance_get(conn, team_id=team_id))


async def lock_balance(conn: AsyncConnection[Any], *, team_id: uuid.UUID) -> TeamBalance | None:
    return await checked(q.team_balance_lock(conn, team_id=team_id))


async def apply(
    conn: AsyncConnection[Any], *, team_id: uuid.UUID, balance_delta: int, held_delta: int
) -> TeamBalance | None:
    return await checked(
        q.team_balance_apply(conn, team_id=team_id, balance_delta=balance_delta, held_delta=held_delta)
    )


async def set_overdraft(conn: AsyncConnection[Any], *, team_id: uuid.UUID, overdraft_limit: int) -> None:
    await checked(q.team_balance_set_overdraft(conn, team_id=team_id, overdraft_limit=overdraft_limit))


async def add_entry(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    kind: LedgerKind,
    amount: int,
    job_id: uuid.UUID | None,
    idempotency_key: str,
    actor: str,
    reason: str,
    after: TeamBalance,
) -> LedgerEntry:
    row = await checked(
        q.ledger_entry_add(
            conn,
            team_id=team_id,
            kind=kind,
            amount=amount,
            job_id=job_id,
            idempotency_key=idempotency_key,
            actor=actor,
            reason=reason,
            balance_after=after.balance,
            held_after=after.held,
        )
    )
    assert row is not None
    return row


async def entry_by_key(
    conn: AsyncConnection[Any], *, team_id: uuid.UUID, idempotency_key: str
) -> LedgerEntry | None:
    return await checked(q.ledger_entry_get_by_key(conn, team_id=team_id, idempotency_key=idempotency_key))


async def job_open_hold(conn: AsyncConnection[Any], *, team_id: uuid.UUID, job_id: uuid.UUID) -> int:
    row = await checked(q.ledger_job_open_hold(conn, team_id=team_id, job_id=job_id))
    return 0 if row is None else row.open_hold


async def list_entries(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    before: datetime | None,
    before_id: int | None,
    limit: int,
) -> list[LedgerEntry]:
    return await checked(
        q.ledger_entry_list_by_team(conn, team_id=team_id, before=before, before_id=before_id, lim=limit)
    )


async def check(conn: AsyncConnection[Any], *, team_id: uuid.UUID) -> LedgerCheckRow | None:
    return await checked(q.ledger_check(conn, team_id=team_id))


# ----------------------------------------------------------------------------- grants (credits that expire)


async def grant_create(
    conn: AsyncConnection[Any], *, ledger_entry_id: int, team_id: uuid.UUID, amount: int, expires_at: datetime
) -> None:
    await checked(
        grants_q.credit_grant_create(
            conn, ledger_entry_id=ledger_entry_id, team_id=team_id, amount=amount, expires_at=expires_at
        )
    )


async def grant_get(conn: AsyncConnection[Any], *, ledger_entry_id: int) -> CreditGrant | None:
    return await checked(grants_q.credit_grant_get(conn, ledger_entry_id=ledger_entry_id))


async def grant_teams_due(conn: AsyncConnection[Any], *, now: datetime, limit: int) -> list[uuid.UUID]:
    rows = await checked(grants_q.credit_grant_teams_due(conn, now=now, lim=limit))
    return [r.team_id for r in rows]


async def grant_list_by_team(conn: AsyncConnection[Any], *, team_id: uuid.UUID) -> list[CreditGrant]:
    return await checked(grants_q.credit_grant_list_by_team(conn, team_id=team_id))


async def grant_mark_expired(
    conn: AsyncConnection[Any], *, ledger_entry_id: int, expired_at: datetime, expired_amount: int
) -> int:
    return await checked(
        grants_q.credit_grant_mark_expired(
            conn, ledger_entry_id=ledger_entry_id, expired_at=expired_at, expired_amount=expired_amount
        )
    )


async def grant_ledger_since(
    conn: AsyncConnection[Any], *, team_id: uuid.UUID, from_id: int
) -> list[CreditGrantLedgerSinceRow]:
    return await checked(grants_q.credit_grant_ledger_since(conn, team_id=team_id, from_id=from_id))
