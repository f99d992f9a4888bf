"""The only caller of the generated ``upkeep``, ``reconciliation`` and ``budget_alerts`` queries."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from psycopg import AsyncConnection

from tollgate_api.db import budget_alerts as bq
from tollgate_api.db import reconciliation as rq
from tollgate_api.db import upkeep as uq
from tollgate_api.db.budget_alerts import BudgetAlertListRow, CreditAlertListRow
from tollgate_api.db.models import BudgetAlert, CreditAlert, ReconciliationDrift, ReconciliationRun
from tollgate_api.db.reconciliation import ReconciliationApiSpendRow, ReconciliationTeamKeysRow
from tollgate_api.db.upkeep import CreditAlertCandidatesRow
from tollgate_common.db import checked

Conn = AsyncConnection[Any]

__all__ = [
    "BudgetAlert",
    "BudgetAlertListRow",
    "CreditAlert",
    "CreditAlertCandidatesRow",
    "CreditAlertListRow",
    "ReconciliationApiSpendRow",
    "ReconciliationDrift",
    "ReconciliationRun",
    "ReconciliationTeamKeysRow",
    "alert_candidates",
    "alert_clear_recovered",
    "alert_raise",
    "alerts_of_team",
    "api_spend",
    "budget_alert_list",
    "budget_alert_raise",
    "budget_alerts_clear",
    "budget_alerts_open",
    "credit_alert_list",
    "drift_list",
    "drift_upsert",
    "purge_retention_batch",
    "run_finish",
    "run_get",
    "run_list",
    "run_start",
    "team_keys",
]


# ----------------------------------------------------------------------------- low-credit alerts


async def alert_candidates(
    conn: Conn, *, default_threshold: int, limit: int
) -> list[CreditAlertCandidatesRow]:
    return await checked(uq.credit_alert_candidates(conn, default_threshold=default_threshold, lim=limit))


async def alert_raise(
    conn: Conn, *, team_id: uuid.UUID, threshold: int, available: int
) -> CreditAlert | None:
    return await checked(
        uq.credit_alert_raise(conn, team_id=team_id, threshold=threshold, available=available)
    )


async def alert_clear_recovered(conn: Conn, *, default_threshold: int) -> int:
    return await checked(uq.credit_alert_clear_recovered(conn, default_threshold=default_threshold))


async def alerts_of_team(conn: Conn, *, team_id: uuid.UUID, limit: int) -> list[CreditAlert]:
    return await checked(uq.credit_alert_list_by_team(conn, team_id=team_id, lim=limit))


# ----------------------------------------------------------------------------- retention


async def purge_retention_batch(conn: Conn, *, now: datetime.datetime, batch: int) -> int:
    return await checked(uq.llm_call_retention_purge(conn, now=now, batch=batch))


# ----------------------------------------------------------------------------- reconciliation


async def run_start(
    conn: Conn, *, trigger: str, from_day: datetime.date, to_day: datetime.date
) -> ReconciliationRun:
    row = await checked(rq.reconciliation_run_start(conn, trigger=trigger, from_day=from_day, to_day=to_day))
    assert row is not None
    return row


async def run_finish(
    conn: Conn,
    *,
    run_id: int,
    status: str,
    keys_checked: int,
    drifted: int,
    total_abs_drift_micro_usd: int,
    error: str | None,
) -> ReconciliationRun | None:
    return await checked(
        rq.reconciliation_run_finish(
            conn,
            id=run_id,
            status=status,
            keys_checked=keys_checked,
            drifted=drifted,
            total_abs_drift_micro_usd=total_abs_drift_micro_usd,
            error=error,
        )
    )


async def run_get(conn: Conn, *, run_id: int) -> ReconciliationRun | None:
    return await checked(rq.reconciliation_run_get(conn, id=run_id))


async def run_list(conn: Conn, *, before_id: int | None, limit: int) -> list[ReconciliationRun]:
    return await checked(rq.reconciliation_run_list(conn, before_id=before_id, lim=limit))


async def team_keys(conn: Conn) -> list[ReconciliationTeamKeysRow]:
    return await checked(rq.reconciliation_team_keys(conn))


async def api_spend(
    conn: Conn, *, from_at: datetime.datetime, to_at: datetime.datetime
) -> list[ReconciliationApiSpendRow]:
    return await checked(rq.reconciliation_api_spend(conn, from_at=from_at, to_at=to_at))


async def drift_upsert(
    conn: Conn,
    *,
    team_id: uuid.UUID,
    day: datetime.date,
    router_key_id: str,
    run_id: int,
    router_requests: int,
    router_cost_micro_usd: int,
    api_calls: int,
    api_cost_micro_usd: int,
) -> None:
    await checked(
        rq.reconciliation_drift_upsert(
            conn,
            team_id=team_id,
            day=day,
            router_key_id=router_key_id,
            run_id=run_id,
            router_requests=router_requests,
            router_cost_micro_usd=router_cost_micro_usd,
            api_calls=api_calls,
            api_cost_micro_usd=api_cost_micro_usd,
            drift_micro_usd=router_cost_micro_usd - api_cost_micro_usd,
        )
    )


async def drift_list(
    conn: Conn,
    *,
    from_day: datetime.date,
    to_day: datetime.date,
    team_id: uuid.UUID | None,
    only_drift: bool,
    limit: int,
) -> list[ReconciliationDrift]:
    return await checked(
        rq.reconciliation_drift_list(
            conn, from_day=from_day, to_day=to_day, team_id=team_id, only_drift=only_drift, lim=limit
        )
    )


# ----------------------------------------------------------------------------- budget alerts


async def budget_alerts_open(conn: Conn) -> list[BudgetAlert]:
    return await checked(bq.budget_alert_list_open(conn))


async def budget_alerts_clear(conn: Conn, *, ids: list[int]) -> int:
    return await checked(bq.budget_alert_clear(conn, ids=ids))


async def budget_alert_raise(
    conn: Conn,
    *,
    team_id: uuid.UUID,
    router_key_id: str,
    threshold_pct: int,
    budget_micro_usd: int,
    spend_micro_usd: int,
    budget_period: str,
    period_start: datetime.datetime | None,
) -> BudgetAlert | None:
    return await checked(
        bq.budget_alert_raise(
            conn,
            team_id=team_id,
            router_key_id=router_key_id,
            threshold_pct=threshold_pct,
            budget_micro_usd=budget_micro_usd,
            spend_micro_usd=spend_micro_usd,
            budget_period=budget_period,
            period_start=period_start,
        )
    )


async def budget_alert_list(
    conn: Conn, *, team_id: uuid.UUID | None, open_only: bool, limit: int
) -> list[BudgetAlertListRow]:
    return await checked(bq.budget_alert_list(conn, team_id=team_id, open_only=open_only, lim=limit))


async def credit_alert_list(
    conn: Conn, *, team_id: uuid.UUID | None, open_only: bool, limit: int
) -> list[CreditAlertListRow]:
    return await checked(bq.credit_alert_list(conn, team_id=team_id, open_only=open_only, lim=limit))
