"""Credit grants: at expiry exactly the unused remainder leaves (FIFO by earliest expiry), once."""

from __future__ import annotations

import datetime
import uuid

from tests.jobs_support import ACTOR
from tollgate_api.credits import grants
from tollgate_api.credits import service as credits
from tollgate_api.credits.repository import CreditGrant, CreditGrantLedgerSinceRow
from tollgate_api.upkeep import service as upkeep

from .conftest import Upkeep, World

DAY = datetime.timedelta(days=1)


async def grant(world: Upkeep, team_id: uuid.UUID, amount: int, expires_at: datetime.datetime | None) -> int:
    entry, _, _ = await credits.record_movement(
        world.pool,
        ACTOR,
        team_id=team_id,
        amount=amount,
        kind="allocation",
        reason="grant",
        idempotency_key=f"grant-{uuid.uuid4()}",
        expires_at=expires_at,
    )
    return entry.id


async def spend(world: Upkeep, team_id: uuid.UUID, amount: int) -> None:
    """A job's hold and capture, straight through the ledger (what complete does)."""
    job_id = uuid.uuid4()
    async with world.pool.connection() as conn, conn.transaction():
        await credits.place_hold(
            conn, team_id=team_id, job_id=job_id, amount=amount, idempotency_key=f"h-{job_id}", actor="t"
        )
        await credits.settle_hold(
            conn, team_id=team_id, job_id=job_id, charge=amount, idempotency_key=f"c-{job_id}", actor="t"
        )


def expiries(world: Upkeep, team_id: uuid.UUID) -> list[tuple[object, ...]]:
    return world.rows(
        "SELECT idempotency_key, amount FROM api.ledger_entries"
        " WHERE team_id = %s AND kind = 'expiry' ORDER BY id",
        team_id,
    )


def balance(world: Upkeep, team_id: uuid.UUID) -> tuple[object, ...]:
    return world.rows("SELECT balance, held FROM api.team_balances WHERE team_id = %s", team_id)[0]


async def test_the_unused_remainder_expires_once_and_used_credits_do_not(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team(credits_amount=50)  # 50 that never expire
        now = datetime.datetime.now(datetime.UTC)
        grant_id = await grant(world, team.team_id, 100, now + DAY)
        await spend(world, team.team_id, 30)  # charged to the grant first (it expires, the 50 do not)

        first = await upkeep.expire_grants(world.pool, now + DAY + datetime.timedelta(seconds=1))
        after_first = (expiries(world, team.team_id), balance(world, team.team_id))
        second = await upkeep.expire_grants(world.pool, now + 2 * DAY)

        assert [(g.ledger_entry_id, g.remainder, g.expired_amount) for g in first] == [(grant_id, 70, 70)]
        assert second == []
        assert after_first == ([(f"grant-expiry:{grant_id}", -70)], (50, 0))
        assert (expiries(world, team.team_id), balance(world, team.team_id)) == after_first
        assert world.rows(
            "SELECT expired_amount FROM api.credit_grants WHERE ledger_entry_id = %s", grant_id
        ) == [(70,)]


async def test_consumption_is_charged_to_the_earliest_expiring_grant_first(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team(credits_amount=0)
        now = datetime.datetime.now(datetime.UTC)
        late = await grant(world, team.team_id, 100, now + 2 * DAY)
        early = await grant(world, team.team_id, 100, now + DAY)
        await spend(world, team.team_id, 150)  # early: all 100, late: 50

        at_early = await upkeep.expire_grants(world.pool, now + DAY + datetime.timedelta(seconds=1))
        await spend(world, team.team_id, 20)  # after early expired: from late
        at_late = await upkeep.expire_grants(world.pool, now + 2 * DAY + datetime.timedelta(seconds=1))

        assert [(g.ledger_entry_id, g.remainder, g.expired_amount) for g in at_early] == [(early, 0, 0)]
        assert [(g.ledger_entry_id, g.remainder, g.expired_amount) for g in at_late] == [(late, 30, 30)]
        assert expiries(world, team.team_id) == [(f"grant-expiry:{late}", -30)]  # 0 writes no entry
        assert balance(world, team.team_id) == (0, 0)


async def test_expiry_never_takes_credits_held_by_open_jobs(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team(credits_amount=0)
        now = datetime.datetime.now(datetime.UTC)
        grant_id = await grant(world, team.team_id, 100, now + DAY)
        async with world.pool.connection() as conn, conn.transaction():
            await credits.place_hold(
                conn, team_id=team.team_id, job_id=uuid.uuid4(), amount=40, idempotency_key="open", actor="t"
            )
        expired = await upkeep.expire_grants(world.pool, now + 2 * DAY)
        assert [(g.remainder, g.expired_amount) for g in expired] == [(100, 60)]
        assert balance(world, team.team_id) == (40, 40)
        assert grant_id


async def test_admin_allocation_takes_expires_at_and_a_repeat_must_match_it(upkeep_world: World) -> None:
    async with upkeep_world() as world:
        team = await world.world.seed_team(credits_amount=0)
        expires = (datetime.datetime.now(datetime.UTC) + 30 * DAY).replace(microsecond=0)
        body = {
            "amount": 500,
            "reason": "trial",
            "idempotency_key": "trial-1",
            "expires_at": expires.isoformat(),
        }
        url = f"/admin/teams/{team.team_id}/credits"
        created = await world.world.client.post(url, json=body, headers=world.admin_headers)
        repeat = await world.world.client.post(url, json=body, headers=world.admin_headers)
        changed = await world.world.client.post(
            url, json={**body, "expires_at": (expires + DAY).isoformat()}, headers=world.admin_headers
        )
        past = await world.world.client.post(
            url,
            json={**body, "idempotency_key": "trial-2", "expires_at": "2020-01-01T00:00:00Z"},
            headers=world.admin_headers,
        )
        adjustment = await world.world.client.post(
            url,
            json={**body, "idempotency_key": "adj", "kind": "adjustment", "amount": -1},
            headers=world.admin_headers,
        )

        assert created.status_code == 201, created.text
        assert datetime.datetime.fromisoformat(created.json()["expires_at"]) == expires
        assert (repeat.status_code, repeat.json()["created"]) == (201, False)
        assert changed.status_code == 409, changed.text
        assert past.status_code == 400, past.text
        assert adjustment.status_code == 400, adjustment.text
        entry_id = created.json()["entry"]["id"]
        assert world.rows(
            "SELECT amount, expires_at FROM api.credit_grants WHERE ledger_entry_id = %s", entry_id
        ) == [(500, expires)]


def test_replay_is_pure_fifo_by_expiry() -> None:
    """The replay alone: captures go to the live grant expiring first, never to an expired one."""
    t0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    g1 = CreditGrant(1, uuid.UUID(int=1), 100, t0 + DAY, None, None, t0)
    g2 = CreditGrant(2, uuid.UUID(int=1), 100, t0 + 3 * DAY, None, None, t0)
    row = CreditGrantLedgerSinceRow
    entries = [
        row(1, "allocation", 100, "a", t0),
        row(2, "allocation", 100, "b", t0),
        row(3, "capture", 120, "c", t0 + datetime.timedelta(hours=1)),  # g1: 100, g2: 20
        row(4, "expiry", 0, "grant-expiry:1", t0 + DAY),
        row(5, "capture", 30, "d", t0 + 2 * DAY),  # g2 only (g1 gone)
        row(6, "adjustment", -10, "e", t0 + 2 * DAY),  # g2
        row(7, "refund", 500, "f", t0 + 2 * DAY),  # never expires, never refills a grant
    ]
    assert grants.remainders([g1, g2], entries) == {2: 40}
