"""Credits, TigerBeetle-style, in Postgres: an append-only ledger and one balance row per team.

Every movement is one ``api.ledger_entries`` row with an idempotency key unique per team, and the
team's ``api.team_balances`` row changes in the same transaction. The balance row is locked
(``SELECT … FOR UPDATE``) before anything is read or written, which serialises movements of one team:
concurrent job creates cannot oversell, and an idempotency key is checked under the lock so a repeat
never races its original. The database keeps ``balance - held >= -overdraft_limit`` and
``held >= 0`` (CHECK constraints) and refuses UPDATE/DELETE of ledger rows (trigger).

::

    kind         balance      held        used by
    allocation   += amount    —           operators (credits granted)
    purchase     += amount    —           operators / billing
    adjustment   += amount    —           operators (signed)
    refund       += amount    —           operators
    expiry       += amount    —           credits expiring (negative)
    hold         —            += amount   job create (place_hold)
    capture      -= amount    -= amount   job complete (settle_hold)
    release      —            -= amount   job complete / fail / expire (settle_hold, release_hold)

``balance == Σ(balance-moving entries)`` and ``held == Σ(open holds)`` is one query
(``LedgerCheck``), exposed as :func:`verify_team`.

The job-facing functions (:func:`place_hold`, :func:`settle_hold`, :func:`release_hold`) take the
caller's connection, already inside its transaction, so the job's state change and the ledger
movement commit together.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final, Literal

import msgspec
import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.audit import service as audit
from tollgate_api.audit.service import Actor
from tollgate_api.credits import grants, repository
from tollgate_api.credits.repository import LedgerEntry, TeamBalance
from tollgate_api.errors import (
    BadRequest,
    Conflict,
    IdempotencyConflict,
    InsufficientCredits,
    TeamNotFound,
)
from tollgate_common.db import connection, transaction

_log = structlog.get_logger("tollgate.credits")

OperatorKind = Literal["allocation", "purchase", "adjustment", "refund", "expiry"]
OPERATOR_KINDS: Final = ("allocation", "purchase", "adjustment", "refund", "expiry")
RELEASE_SUFFIX: Final = ":release"


class Balance(msgspec.Struct, frozen=True):
    balance: int
    held: int
    available: int


class Settlement(msgspec.Struct, frozen=True):
    credit_applied: int
    balance: int
    held: int
    available: int


class LedgerEntryView(msgspec.Struct, frozen=True):
    """A ledger row as a team sees it (no actor, no idempotency key)."""

    id: int
    kind: str
    amount: int
    job_id: uuid.UUID | None
    reason: str
    balance_after: int
    held_after: int
    created_at: datetime


class AdminLedgerEntry(msgspec.Struct, frozen=True):
    id: int
    team_id: uuid.UUID
    kind: str
    amount: int
    job_id: uuid.UUID | None
    idempotency_key: str
    actor: str
    reason: str
    balance_after: int
    held_after: int
    created_at: datetime


class LedgerCheck(msgspec.Struct, frozen=True):
    ok: bool
    balance: int
    held: int
    ledger_balance: int
    ledger_held: int


def _available(row: TeamBalance) -> int:
    return row.balance - row.held + row.overdraft_limit


def _balance(row: TeamBalance) -> Balance:
    return Balance(balance=row.balance, held=row.held, available=_available(row))


def _settlement(applied: int, row: TeamBalance) -> Settlement:
    return Settlement(credit_applied=applied, balance=row.balance, held=row.held, available=_available(row))


async def _lock(conn: AsyncConnection[Any], team_id: uuid.UUID) -> TeamBalance:
    row = await repository.lock_balance(conn, team_id=team_id)
    if row is None:
        raise TeamNotFound()
    return row


async def _move(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    kind: repository.LedgerKind,
    amount: int,
    balance_delta: int,
    held_delta: int,
    job_id: uuid.UUID | None,
    idempotency_key: str,
    actor: str,
    reason: str,
) -> tuple[LedgerEntry, TeamBalance]:
    after = await repository.apply(conn, team_id=team_id, balance_delta=balance_delta, held_delta=held_delta)
    if after is None:
        raise TeamNotFound()
    entry = await repository.add_entry(
        conn,
        team_id=team_id,
        kind=kind,
        amount=amount,
        job_id=job_id,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason,
        after=after,
    )
    return entry, after


def _check_key(existing: LedgerEntry, *, kind: str, job_id: uuid.UUID | None) -> None:
    if existing.kind != kind or existing.job_id != job_id:
        raise IdempotencyConflict("This idempotency key was used for a different credit movement.")


# ----------------------------------------------------------------------------- job-facing (caller's conn)


async def create_account(conn: AsyncConnection[Any], *, team_id: uuid.UUID, overdraft_limit: int) -> None:
    """The team's balance row (created with the team, in its transaction)."""
    await repository.create_balance(conn, team_id=team_id, overdraft_limit=overdraft_limit)


async def set_overdraft(conn: AsyncConnection[Any], *, team_id: uuid.UUID, overdraft_limit: int) -> None:
    await _lock(conn, team_id)
    await repository.set_overdraft(conn, team_id=team_id, overdraft_limit=overdraft_limit)


async def place_hold(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    job_id: uuid.UUID,
    amount: int,
    idempotency_key: str,
    actor: str,
) -> None:
    """Hold ``amount`` credits for a job; :class:`InsufficientCredits` when available cannot cover it.

    Idempotent by key: a repeat with the same key and job is a no-op.
    """
    if amount < 0:
        raise BadRequest("A hold cannot be negative.")
    row = await _lock(conn, team_id)
    existing = await repository.entry_by_key(conn, team_id=team_id, idempotency_key=idempotency_key)
    if existing is not None:
        _check_key(existing, kind="hold", job_id=job_id)
        return
    if _available(row) < amount:
        raise InsufficientCredits("The team's available credits cannot cover this job.")
    await _move(
        conn,
        team_id=team_id,
        kind="hold",
        amount=amount,
        balance_delta=0,
        held_delta=amount,
        job_id=job_id,
        idempotency_key=idempotency_key,
        actor=actor,
        reason="job hold",
    )


async def settle_hold(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    job_id: uuid.UUID,
    charge: int,
    idempotency_key: str,
    actor: str,
) -> Settlement:
    """Capture ``min(charge, open hold)`` and release the rest, in one go; idempotent by key.

    Writes a ``capture`` entry under ``idempotency_key`` (always, even of 0: it marks the job settled)
    and a ``release`` entry under ``idempotency_key + ":release"`` when something is left.
    A repeat returns the first settlement's ``credit_applied`` with the current balance.
    """
    if charge < 0:
        raise BadRequest("A charge cannot be negative.")
    current = await _lock(conn, team_id)
    existing = await repository.entry_by_key(conn, team_id=team_id, idempotency_key=idempotency_key)
    if existing is not None:
        _check_key(existing, kind="capture", job_id=job_id)
        return _settlement(existing.amount, current)
    open_hold = await repository.job_open_hold(conn, team_id=team_id, job_id=job_id)
    captured = min(charge, open_hold)
    leftover = open_hold - captured
    _, after = await _move(
        conn,
        team_id=team_id,
        kind="capture",
        amount=captured,
        balance_delta=-captured,
        held_delta=-captured,
        job_id=job_id,
        idempotency_key=idempotency_key,
        actor=actor,
        reason="job charge",
    )
    if leftover > 0:
        _, after = await _move(
            conn,
            team_id=team_id,
            kind="release",
            amount=leftover,
            balance_delta=0,
            held_delta=-leftover,
            job_id=job_id,
            idempotency_key=idempotency_key + RELEASE_SUFFIX,
            actor=actor,
            reason="job hold remainder",
        )
    if charge > open_hold:
        _log.warning("charge_capped_at_hold", team_id=str(team_id), job_id=str(job_id))
    return _settlement(captured, after)


async def release_hold(
    conn: AsyncConnection[Any],
    *,
    team_id: uuid.UUID,
    job_id: uuid.UUID,
    idempotency_key: str,
    actor: str,
    reason: str,
) -> Settlement:
    """Release whatever is still held for a job (failed with policy ``none``, expired); idempotent."""
    current = await _lock(conn, team_id)
    existing = await repository.entry_by_key(conn, team_id=team_id, idempotency_key=idempotency_key)
    if existing is not None:
        _check_key(existing, kind="release", job_id=job_id)
        return _settlement(0, current)
    open_hold = await repository.job_open_hold(conn, team_id=team_id, job_id=job_id)
    _, after = await _move(
        conn,
        team_id=team_id,
        kind="release",
        amount=open_hold,
        balance_delta=0,
        held_delta=-open_hold,
        job_id=job_id,
        idempotency_key=idempotency_key,
        actor=actor,
        reason=reason,
    )
    return _settlement(0, after)


async def job_open_hold(conn: AsyncConnection[Any], *, team_id: uuid.UUID, job_id: uuid.UUID) -> int:
    """Credits still held for one job."""
    return await repository.job_open_hold(conn, team_id=team_id, job_id=job_id)


# ----------------------------------------------------------------------------- reads (own connection)


async def balance(pool: AsyncConnectionPool[AsyncConnection[Any]], team_id: uuid.UUID) -> Balance:
    async with connection(pool) as conn:
        row = await repository.get_balance(conn, team_id=team_id)
    if row is None:
        raise TeamNotFound()
    return _balance(row)


async def transactions(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    team_id: uuid.UUID,
    *,
    limit: int,
    before: datetime | None,
) -> list[LedgerEntryView]:
    async with connection(pool) as conn:
        rows = await repository.list_entries(
            conn, team_id=team_id, before=before, before_id=None, limit=max(1, min(limit, 500))
        )
    return [
        LedgerEntryView(
            id=r.id,
            kind=r.kind,
            amount=r.amount,
            job_id=r.job_id,
            reason=r.reason,
            balance_after=r.balance_after,
            held_after=r.held_after,
            created_at=r.created_at,
        )
        for r in rows
    ]


async def ledger(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    team_id: uuid.UUID,
    *,
    limit: int,
    before_id: int | None,
) -> list[AdminLedgerEntry]:
    """The full ledger of a team for operators and finance (newest first, cursor ``before_id``)."""
    async with connection(pool) as conn:
        if await repository.get_balance(conn, team_id=team_id) is None:
            raise TeamNotFound()
        rows = await repository.list_entries(
            conn, team_id=team_id, before=None, before_id=before_id, limit=max(1, min(limit, 1000))
        )
    return [AdminLedgerEntry(**msgspec.structs.asdict(r)) for r in rows]


async def verify_team(pool: AsyncConnectionPool[AsyncConnection[Any]], team_id: uuid.UUID) -> LedgerCheck:
    """Balance == Σ ledger and held == Σ open holds, for one team."""
    async with connection(pool) as conn:
        row = await repository.check(conn, team_id=team_id)
    if row is None:
        raise TeamNotFound()
    return LedgerCheck(
        ok=row.balance == row.ledger_balance and row.held == row.ledger_held,
        balance=row.balance,
        held=row.held,
        ledger_balance=row.ledger_balance,
        ledger_held=row.ledger_held,
    )


# ----------------------------------------------------------------------------- operators


async def record_movement(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    actor: Actor,
    *,
    team_id: uuid.UUID,
    amount: int,
    kind: OperatorKind,
    reason: str,
    idempotency_key: str,
    expires_at: datetime | None = None,
) -> tuple[AdminLedgerEntry, Balance, bool]:
    """An operator's allocation/purchase/adjustment/refund/expiry; returns (entry, balance, created).

    A repeat with the same key returns the first entry (``created`` False); the same key with a
    different amount, kind or ``expires_at`` is :class:`IdempotencyConflict`. An allocation or purchase
    with ``expires_at`` is a grant: its unused remainder expires then (:mod:`tollgate_api.credits.grants`).
    """
    if kind not in OPERATOR_KINDS:
        raise BadRequest(f"kind must be one of {', '.join(OPERATOR_KINDS)}")
    if amount == 0:
        raise BadRequest("amount must not be zero")
    if kind in ("allocation", "purchase", "refund") and amount < 0:
        raise BadRequest(f"{kind} amounts must be positive (use an adjustment to remove credits)")
    if kind == "expiry" and amount > 0:
        raise BadRequest("expiry amounts must be negative (credits that expire leave the balance)")
    if not reason.strip():
        raise BadRequest("reason is required")
    grants.validate_expiry(kind, amount, expires_at, datetime.now(UTC))
    async with transaction(pool) as conn:
        row = await _lock(conn, team_id)
        existing = await repository.entry_by_key(conn, team_id=team_id, idempotency_key=idempotency_key)
        if existing is not None:
            if existing.kind != kind or existing.amount != amount or existing.job_id is not None:
                raise IdempotencyConflict("This idempotency key was used for a different credit movement.")
            await grants.check_repeat(conn, existing.id, expires_at)
            return AdminLedgerEntry(**msgspec.structs.asdict(existing)), _balance(row), False
        if amount < 0 and _available(row) + amount < 0:
            raise Conflict("This would take the team's available credits below its overdraft limit.")
        entry, after = await _move(
            conn,
            team_id=team_id,
            kind=kind,
            amount=amount,
            balance_delta=amount,
            held_delta=0,
            job_id=None,
            idempotency_key=idempotency_key,
            actor=actor.name,
            reason=reason,
        )
        if expires_at is not None:
            await grants.record_grant(
                conn, ledger_entry_id=entry.id, team_id=team_id, amount=amount, expires_at=expires_at
            )
        view = AdminLedgerEntry(**msgspec.structs.asdict(entry))
        await audit.record(
            conn,
            actor,
            f"credits.{kind}",
            target_type="team",
            target_id=team_id,
            before=_balance(row),
            after={"entry": view, "balance": _balance(after), "expires_at": expires_at},
        )
    _log.info("credits_moved", team_id=str(team_id), kind=kind, amount=amount)
    return view, _balance(after), True
