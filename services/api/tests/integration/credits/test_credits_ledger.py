"""The credit ledger against real Postgres: holds cannot oversell, settlements are idempotent,
ledger rows are append-only, and the balance row always equals the sum of the ledger."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import psycopg
import pytest

from tollgate_api.credits import service as credits
from tollgate_api.errors import IdempotencyConflict, InsufficientCredits
from tollgate_common.db import transaction

pytestmark = pytest.mark.usefixtures("admin")


async def assert_ledger_consistent(pool: Any, team_id: uuid.UUID) -> credits.LedgerCheck:
    check = await credits.verify_team(pool, team_id)
    assert check.ok, check
    return check


async def hold(pool: Any, team_id: uuid.UUID, amount: int, job_id: uuid.UUID | None = None) -> uuid.UUID:
    job_id = job_id or uuid.uuid4()
    async with transaction(pool) as conn:
        await credits.place_hold(
            conn,
            team_id=team_id,
            job_id=job_id,
            amount=amount,
            idempotency_key=f"hold:{job_id}",
            actor="test",
        )
    return job_id


async def test_fifty_concurrent_holds_on_credits_for_ten_admit_exactly_ten(pool: Any, tenancy: Any) -> None:
    team = await tenancy.team(credits=100)
    team_id = uuid.UUID(team["id"])

    async def attempt() -> bool:
        try:
            await hold(pool, team_id, 10)
        except InsufficientCredits:
            return False
        return True

    results = await asyncio.gather(*(attempt() for _ in range(50)))

    assert sum(results) == 10
    balance = await credits.balance(pool, team_id)
    assert (balance.balance, balance.held, balance.available) == (100, 100, 0)
    check = await assert_ledger_consistent(pool, team_id)
    assert check.ledger_held == 100


async def test_settle_captures_up_to_the_hold_and_releases_the_rest_once(pool: Any, tenancy: Any) -> None:
    team_id = uuid.UUID((await tenancy.team(credits=100))["id"])
    job_id = await hold(pool, team_id, 30)

    async def settle() -> credits.Settlement:
        async with transaction(pool) as conn:
            return await credits.settle_hold(
                conn,
                team_id=team_id,
                job_id=job_id,
                charge=12,
                idempotency_key=f"settle:{job_id}",
                actor="test",
            )

    first = await settle()
    second = await settle()

    assert first.credit_applied == second.credit_applied == 12
    assert (first.balance, first.held, first.available) == (88, 0, 88)
    assert (second.balance, second.held) == (88, 0)
    entries = await credits.ledger(pool, team_id, limit=100, before_id=None)
    assert sorted(e.kind for e in entries if e.job_id == job_id) == ["capture", "hold", "release"]
    await assert_ledger_consistent(pool, team_id)


async def test_a_charge_above_the_hold_is_capped_at_the_hold(pool: Any, tenancy: Any) -> None:
    team_id = uuid.UUID((await tenancy.team(credits=100))["id"])
    job_id = await hold(pool, team_id, 5)
    async with transaction(pool) as conn:
        settled = await credits.settle_hold(
            conn, team_id=team_id, job_id=job_id, charge=50, idempotency_key="s", actor="test"
        )
    assert settled.credit_applied == 5
    assert (settled.balance, settled.held) == (95, 0)
    await assert_ledger_consistent(pool, team_id)


async def test_concurrent_settlements_of_one_job_charge_once(pool: Any, tenancy: Any) -> None:
    team_id = uuid.UUID((await tenancy.team(credits=100))["id"])
    job_id = await hold(pool, team_id, 20)

    async def settle() -> int:
        async with transaction(pool) as conn:
            result = await credits.settle_hold(
                conn, team_id=team_id, job_id=job_id, charge=20, idempotency_key=f"settle:{job_id}", actor="t"
            )
        return result.credit_applied

    applied = await asyncio.gather(*(settle() for _ in range(20)))

    assert set(applied) == {20}
    balance = await credits.balance(pool, team_id)
    assert (balance.balance, balance.held) == (80, 0)
    await assert_ledger_consistent(pool, team_id)


async def test_release_is_idempotent_and_frees_the_whole_hold(pool: Any, tenancy: Any) -> None:
    team_id = uuid.UUID((await tenancy.team(credits=50))["id"])
    job_id = await hold(pool, team_id, 40)

    async def release() -> credits.Settlement:
        async with transaction(pool) as conn:
            return await credits.release_hold(
                conn,
                team_id=team_id,
                job_id=job_id,
                idempotency_key=f"expire:{job_id}",
                actor="worker",
                reason="job expired",
            )

    first = await release()
    second = await release()

    assert first.credit_applied == second.credit_applied == 0
    assert (first.balance, first.held, first.available) == (50, 0, 50)
    entries = await credits.ledger(pool, team_id, limit=100, before_id=None)
    assert [e.kind for e in entries if e.job_id == job_id].count("release") == 1
    await assert_ledger_consistent(pool, team_id)


async def test_repeated_hold_with_the_same_key_holds_once(pool: Any, tenancy: Any) -> None:
    team_id = uuid.UUID((await tenancy.team(credits=50))["id"])
    job_id = uuid.uuid4()
    await hold(pool, team_id, 10, job_id)
    await hold(pool, team_id, 10, job_id)
    assert (await credits.balance(pool, team_id)).held == 10
    with pytest.raises(IdempotencyConflict):
        async with transaction(pool) as conn:
            await credits.place_hold(
                conn,
                team_id=team_id,
                job_id=uuid.uuid4(),
                amount=10,
                idempotency_key=f"hold:{job_id}",
                actor="t",
            )


async def test_ledger_rows_cannot_be_updated_or_deleted(api_settings: Any, tenancy: Any) -> None:
    team_id = (await tenancy.team(credits=10))["id"]
    async with await psycopg.AsyncConnection.connect(api_settings.database.url, autocommit=True) as conn:
        for statement in (
            "UPDATE api.ledger_entries SET amount = 1000000 WHERE team_id = %s",
            "DELETE FROM api.ledger_entries WHERE team_id = %s",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
                await conn.execute(statement, (team_id,))
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            await conn.execute("TRUNCATE api.ledger_entries CASCADE")
        cur = await conn.execute(
            "SELECT count(*), sum(amount) FROM api.ledger_entries WHERE team_id = %s", (team_id,)
        )
        assert await cur.fetchone() == (1, 10)


async def test_the_database_refuses_a_balance_below_the_overdraft(api_settings: Any, tenancy: Any) -> None:
    team_id = (await tenancy.team(credits=10, overdraft_limit=5))["id"]
    async with await psycopg.AsyncConnection.connect(api_settings.database.url, autocommit=True) as conn:
        await conn.execute("UPDATE api.team_balances SET held = 15 WHERE team_id = %s", (team_id,))
        with pytest.raises(psycopg.errors.CheckViolation):
            await conn.execute("UPDATE api.team_balances SET held = 16 WHERE team_id = %s", (team_id,))
        with pytest.raises(psycopg.errors.CheckViolation):
            await conn.execute("UPDATE api.team_balances SET held = -1 WHERE team_id = %s", (team_id,))


async def test_holds_may_use_the_overdraft_but_not_beyond(pool: Any, tenancy: Any) -> None:
    team_id = uuid.UUID((await tenancy.team(credits=10, overdraft_limit=5))["id"])
    await hold(pool, team_id, 15)
    with pytest.raises(InsufficientCredits):
        await hold(pool, team_id, 1)
    balance = await credits.balance(pool, team_id)
    assert (balance.balance, balance.held, balance.available) == (10, 15, 0)
    await assert_ledger_consistent(pool, team_id)


async def test_operator_credits_are_idempotent_and_audited(admin: Any, tenancy: Any) -> None:
    team_id = (await tenancy.team())["id"]
    body = {"amount": 500, "reason": "contract", "idempotency_key": "po-1", "kind": "purchase"}

    first = await admin.post(f"/admin/teams/{team_id}/credits", json=body)
    again = await admin.post(f"/admin/teams/{team_id}/credits", json=body)
    changed = await admin.post(f"/admin/teams/{team_id}/credits", json={**body, "amount": 501})
    too_much = await admin.post(
        f"/admin/teams/{team_id}/credits",
        json={"amount": -501, "reason": "claw back", "idempotency_key": "adj-1", "kind": "adjustment"},
    )

    assert first.status_code == 201, first.text
    assert first.json()["balance"] == {"balance": 500, "held": 0, "available": 500}
    assert again.json()["created"] is False
    assert again.json()["entry"]["id"] == first.json()["entry"]["id"]
    assert changed.status_code == 409
    assert changed.json()["type"].endswith("/idempotency-conflict")
    assert too_much.status_code == 409
    ledger = (await admin.get(f"/admin/teams/{team_id}/ledger")).json()
    assert [(e["kind"], e["amount"], e["actor"]) for e in ledger] == [
        ("purchase", 500, "operator:admin@example.test")
    ]
    audit = (await admin.get("/admin/audit-log", params={"target_type": "team", "target_id": team_id})).json()
    assert "credits.purchase" in [a["action"] for a in audit]
    assert (await admin.get(f"/admin/teams/{team_id}/ledger/verify")).json()["ok"] is True


async def test_team_changes_and_holds_interleave_without_deadlocks(
    pool: Any, admin: Any, tenancy: Any
) -> None:
    team_id = uuid.UUID((await tenancy.team(credits=1_000))["id"])

    async def change(i: int) -> int:
        response = await admin.patch(
            f"/admin/teams/{team_id}", json={"overdraft_limit": 10 + i, "rpm": 100 + i}
        )
        return int(response.status_code)

    results = await asyncio.gather(
        *(hold(pool, team_id, 10) for _ in range(20)), *(change(i) for i in range(5))
    )
    assert results[20:] == [200] * 5
    balance = await credits.balance(pool, team_id)
    assert balance.held == 200
    await assert_ledger_consistent(pool, team_id)


async def test_operator_credit_kinds_have_fixed_signs(admin: Any, tenancy: Any) -> None:
    team_id = (await tenancy.team(credits=100))["id"]

    async def move(kind: str, amount: int) -> int:
        body = {"amount": amount, "reason": "r", "idempotency_key": str(uuid.uuid4()), "kind": kind}
        return int((await admin.post(f"/admin/teams/{team_id}/credits", json=body)).status_code)

    assert [await move(k, -1) for k in ("allocation", "purchase", "refund")] == [400, 400, 400]
    assert await move("expiry", 5) == 400
    assert await move("hold", 5) == 400  # job movements are not for operators
    assert await move("adjustment", 0) == 400
    assert [await move("expiry", -10), await move("adjustment", -5), await move("refund", 3)] == [
        201,
        201,
        201,
    ]
    balance = (await admin.get(f"/admin/teams/{team_id}")).json()["credits"]
    assert balance == {"balance": 88, "held": 0, "available": 88}
    assert (await admin.get(f"/admin/teams/{team_id}/ledger/verify")).json()["ok"] is True
