"""Grants: credits that expire (an allocation or purchase given an ``expires_at``).

A grant is its ledger entry (the credit) plus one ``api.credit_grants`` row saying when it expires.
Nothing on the hold/capture hot path reads or writes grants: which credits a capture "used" is worked
out only when a grant is due, by replaying the team's ledger from its first grant on:

* consumption (captures, negative adjustments, operator expiries) is charged to the live grants,
  **earliest expiry first** (ties: oldest grant first); a grant only pays for consumption that happened
  before its ``expires_at``; what no live grant covers comes from non-expiring credits;
* other credits (allocations without expiry, purchases, refunds, positive adjustments) never expire;
* a grant's expiry entry closes it (the replay drops whatever it had left).

When a grant is due, exactly its unused remainder leaves the balance as one append-only ``expiry``
entry with idempotency key ``grant-expiry:<ledger entry id>`` — capped so that the team's available
credits (balance - held, overdraft not counted) never go below zero: credits held by open jobs at
that moment stay with those jobs. A remainder of 0 writes no entry; the grant row records what expired.

The balance row is locked (as every movement does) before the replay, so the replay sees every
committed movement of the team and none can interleave; running the expiry twice expires nothing
more (the grant row is marked, and the ledger key is unique per team).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import structlog
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from tollgate_api.credits import repository
from tollgate_api.credits.repository import CreditGrant, CreditGrantLedgerSinceRow, TeamBalance
from tollgate_api.errors import BadRequest, IdempotencyConflict, TeamNotFound
from tollgate_common.db import transaction

_log = structlog.get_logger("tollgate.credits.grants")

EXPIRY_KEY_PREFIX: Final = "grant-expiry:"
EXPIRY_ACTOR: Final = "system:grant-expiry"
GRANT_KINDS: Final = ("allocation", "purchase")


@dataclass(frozen=True, slots=True)
class ExpiredGrant:
    ledger_entry_id: int
    team_id: uuid.UUID
    amount: int
    remainder: int
    expired_amount: int


# ----------------------------------------------------------------------------- at allocation time


def validate_expiry(
    kind: str, amount: int, expires_at: datetime.datetime | None, now: datetime.datetime
) -> None:
    if expires_at is None:
        return
    if kind not in GRANT_KINDS or amount <= 0:
        raise BadRequest("expires_at is only for allocations and purchases (positive amounts).")
    if expires_at.tzinfo is None:
        raise BadRequest("expires_at needs a time zone (e.g. 2027-01-01T00:00:00Z).")
    if expires_at <= now:
        raise BadRequest("expires_at must be in the future.")


async def record_grant(
    conn: AsyncConnection[Any],
    *,
    ledger_entry_id: int,
    team_id: uuid.UUID,
    amount: int,
    expires_at: datetime.datetime,
) -> None:
    """In the allocation's transaction: this entry's credits expire at ``expires_at``."""
    await repository.grant_create(
        conn, ledger_entry_id=ledger_entry_id, team_id=team_id, amount=amount, expires_at=expires_at
    )


async def expiry_of(conn: AsyncConnection[Any], ledger_entry_id: int) -> datetime.datetime | None:
    grant = await repository.grant_get(conn, ledger_entry_id=ledger_entry_id)
    return None if grant is None else grant.expires_at


async def check_repeat(
    conn: AsyncConnection[Any], ledger_entry_id: int, expires_at: datetime.datetime | None
) -> None:
    """A repeated allocation (same idempotency key) must ask for the same expiry."""
    if await expiry_of(conn, ledger_entry_id) != expires_at:
        raise IdempotencyConflict("This idempotency key was used for a different credit movement.")


# ----------------------------------------------------------------------------- the replay (pure)


def remainders(grants: Sequence[CreditGrant], entries: Iterable[CreditGrantLedgerSinceRow]) -> dict[int, int]:
    """Unused credits of each grant still open after ``entries`` (ledger order), FIFO by expiry."""
    by_entry = {g.ledger_entry_id: g for g in grants}
    live: dict[int, int] = {}

    def consume(amount: int, at: datetime.datetime) -> None:
        for gid in sorted(live, key=lambda i: (by_entry[i].expires_at, i)):
            if amount <= 0:
                return
            if by_entry[gid].expires_at <= at or live[gid] == 0:
                continue
            taken = min(amount, live[gid])
            live[gid] -= taken
            amount -= taken

    for entry in entries:
        if entry.id in by_entry:
            live[entry.id] = by_entry[entry.id].amount
        elif entry.kind == "capture":
            consume(entry.amount, entry.created_at)
        elif entry.kind == "expiry" and entry.idempotency_key.startswith(EXPIRY_KEY_PREFIX):
            live.pop(int(entry.idempotency_key.removeprefix(EXPIRY_KEY_PREFIX)), None)
        elif entry.kind in ("adjustment", "expiry") and entry.amount < 0:
            consume(-entry.amount, entry.created_at)
    return live


# ----------------------------------------------------------------------------- the worker's expiry


async def _expire_entry(
    conn: AsyncConnection[Any], team_id: uuid.UUID, grant: CreditGrant, amount: int, remainder: int
) -> TeamBalance:
    """The append-only ``expiry`` entry and its balance change (the balance row is locked already)."""
    after = await repository.apply(conn, team_id=team_id, balance_delta=-amount, held_delta=0)
    if after is None:
        raise TeamNotFound()
    await repository.add_entry(
        conn,
        team_id=team_id,
        kind="expiry",
        amount=-amount,
        job_id=None,
        idempotency_key=f"{EXPIRY_KEY_PREFIX}{grant.ledger_entry_id}",
        actor=EXPIRY_ACTOR,
        reason=f"grant {grant.ledger_entry_id} expired ({remainder} of {grant.amount} unused)",
        after=after,
    )
    return after


async def expire_team_grants(
    conn: AsyncConnection[Any], team_id: uuid.UUID, now: datetime.datetime
) -> list[ExpiredGrant]:
    """Expire the team's due grants (caller's transaction); a repeat expires nothing more."""
    balance = await repository.lock_balance(conn, team_id=team_id)
    if balance is None:
        raise TeamNotFound()
    grants = await repository.grant_list_by_team(conn, team_id=team_id)
    due = sorted(
        (g for g in grants if g.expired_at is None and g.expires_at <= now),
        key=lambda g: (g.expires_at, g.ledger_entry_id),
    )
    if not due:
        return []
    entries = await repository.grant_ledger_since(conn, team_id=team_id, from_id=grants[0].ledger_entry_id)
    left = remainders(grants, entries)
    done: list[ExpiredGrant] = []
    for grant in due:
        remainder = left.get(grant.ledger_entry_id, 0)
        amount = min(remainder, max(0, balance.balance - balance.held))
        if amount > 0:
            balance = await _expire_entry(conn, team_id, grant, amount, remainder)
        await repository.grant_mark_expired(
            conn, ledger_entry_id=grant.ledger_entry_id, expired_at=now, expired_amount=amount
        )
        done.append(ExpiredGrant(grant.ledger_entry_id, team_id, grant.amount, remainder, amount))
    return done


async def expire_due_grants(
    pool: AsyncConnectionPool[AsyncConnection[Any]],
    now: datetime.datetime,
    *,
    max_teams: int = 200,
) -> list[ExpiredGrant]:
    """Expire every due grant of up to ``max_teams`` teams, one transaction per team."""
    expired: list[ExpiredGrant] = []
    async with transaction(pool) as conn:
        team_ids = await repository.grant_teams_due(conn, now=now, limit=max_teams)
    for team_id in team_ids:
        async with transaction(pool) as conn:
            expired += await expire_team_grants(conn, team_id, now)
    for grant in expired:
        _log.info(
            "credit_grant_expired",
            team_id=str(grant.team_id),
            grant=grant.ledger_entry_id,
            remainder=grant.remainder,
            expired=grant.expired_amount,
        )
    return expired
