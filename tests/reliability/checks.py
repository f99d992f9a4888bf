"""Invariants checked after every fault and at the end of the soak, straight from the database.

Each function returns a list of human-readable problems (empty = the invariant holds), so a test can
``assert not problems`` and the soak can print them. Recomputations here are independent of the
product code: plain SQL over the raw rows (``api.llm_calls``, ``api.ledger_entries``,
``router.spend_log``), never the services' own aggregates.
"""

from __future__ import annotations

import datetime
import importlib
import time
from collections.abc import Iterable
from typing import Any

import psycopg

from tests.reliability.traffic import Traffic

Conn = psycopg.Connection[Any]

# job_costs as an independent recomputation from raw llm_calls and the job's own row.
RECOMPUTED_COSTS = """
WITH calls AS (
    SELECT job_id,
           count(*)                                            AS calls,
           count(*) FILTER (WHERE status = 'succeeded')        AS successful_calls,
           count(*) FILTER (WHERE status <> 'succeeded')       AS failed_calls,
           coalesce(sum(prompt_tokens), 0)                     AS prompt_tokens,
           coalesce(sum(completion_tokens), 0)                 AS completion_tokens,
           coalesce(sum(cached_tokens), 0)                     AS cached_tokens,
           coalesce(sum(cost_micro_usd), 0)                    AS cost_micro_usd
      FROM api.llm_calls GROUP BY job_id
)
SELECT j.id, j.team_id, j.status::text,
       coalesce(c.calls, 0), coalesce(c.successful_calls, 0), coalesce(c.failed_calls, 0),
       coalesce(c.prompt_tokens, 0), coalesce(c.completion_tokens, 0), coalesce(c.cached_tokens, 0),
       coalesce(c.cost_micro_usd, 0), coalesce(j.credit_applied, 0),
       coalesce(j.credit_applied, 0) * (j.plan ->> 'usd_micro_per_credit')::bigint
  FROM api.jobs j LEFT JOIN calls c ON c.job_id = j.id
 WHERE j.status NOT IN ('pending', 'in_progress')
"""

STORED_COSTS = """
SELECT job_id, team_id, status::text, calls, successful_calls, failed_calls, prompt_tokens,
       completion_tokens, cached_tokens, cost_micro_usd, price_credits, price_usd_micro, margin_usd_micro
  FROM api.job_costs
"""


def pending_aggregations(conn: Conn) -> int:
    row = conn.execute(
        """SELECT count(*) FROM api.jobs j
            WHERE j.status NOT IN ('pending', 'in_progress')
              AND NOT EXISTS (SELECT 1 FROM api.job_costs c WHERE c.job_id = j.id)"""
    ).fetchone()
    return int(row[0]) if row else 0


def wait_aggregated(conn: Conn, *, timeout_s: float) -> float:
    """Seconds until every finished job has its cost row; raises AssertionError after ``timeout_s``."""
    started = time.monotonic()
    while True:
        left = pending_aggregations(conn)
        if left == 0:
            return time.monotonic() - started
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{left} finished jobs still unaggregated after {timeout_s:g} s")
        time.sleep(0.2)


def cost_mismatches(conn: Conn) -> list[str]:
    """job_costs vs a recomputation from raw llm_calls, to the micro-dollar (and margin = price - cost)."""
    expected = {row[0]: row for row in conn.execute(RECOMPUTED_COSTS).fetchall()}
    stored = {row[0]: row for row in conn.execute(STORED_COSTS).fetchall()}
    problems = []
    for job_id, want in expected.items():
        got = stored.get(job_id)
        if got is None:
            problems.append(f"job {job_id}: no job_costs row")
            continue
        if tuple(got[:12]) != tuple(want):
            problems.append(f"job {job_id}: stored {tuple(got[:12])} != recomputed {tuple(want)}")
        if got[12] != got[11] - got[9]:
            problems.append(f"job {job_id}: margin {got[12]} != price {got[11]} - cost {got[9]}")
    problems += [
        f"job {j}: job_costs row for a job that is not finished" for j in set(stored) - set(expected)
    ]
    return problems


def rollup_mismatches(conn_url: str) -> list[str]:
    """``tollgate_api.reports.service.verify_rollups`` when the reports domain provides it."""
    try:
        reports = importlib.import_module("tollgate_api.reports.service")
    except ImportError:
        return []
    verify = getattr(reports, "verify_rollups", None)
    if verify is None:
        return []
    import asyncio  # noqa: PLC0415

    from psycopg import AsyncConnection  # noqa: PLC0415

    now = datetime.datetime.now(datetime.UTC)

    async def run() -> Any:
        async with await AsyncConnection.connect(conn_url, autocommit=True) as aconn:
            return await verify(aconn, now - datetime.timedelta(days=2), now + datetime.timedelta(days=1))

    result = asyncio.run(run())
    if not result:
        return []
    if isinstance(result, list | tuple | set):
        return [f"rollup: {item}" for item in result]
    return [f"rollup: {result}"]


def ledger_problems(conn: Conn) -> list[str]:
    """balance == Σ ledger and held == Σ open holds per team; per job at most one capture and one
    release, and a finished job holds nothing any more."""
    problems = []
    rows = conn.execute(
        """
        SELECT b.team_id, b.balance, b.held,
               coalesce(sum(CASE WHEN e.kind = 'capture' THEN -e.amount
                                 WHEN e.kind IN ('hold', 'release') THEN 0 ELSE e.amount END), 0),
               coalesce(sum(CASE e.kind WHEN 'hold' THEN e.amount WHEN 'release' THEN -e.amount
                                        WHEN 'capture' THEN -e.amount ELSE 0 END), 0)
          FROM api.team_balances b LEFT JOIN api.ledger_entries e ON e.team_id = b.team_id
         GROUP BY b.team_id, b.balance, b.held
        """
    ).fetchall()
    for team_id, balance, held, ledger_balance, ledger_held in rows:
        if balance != ledger_balance:
            problems.append(f"team {team_id}: balance {balance} != ledger {ledger_balance}")
        if held != ledger_held:
            problems.append(f"team {team_id}: held {held} != ledger holds {ledger_held}")
    twice = conn.execute(
        """SELECT job_id, kind::text, count(*) FROM api.ledger_entries
            WHERE kind IN ('hold', 'capture', 'release') GROUP BY job_id, kind HAVING count(*) > 1"""
    ).fetchall()
    problems += [f"job {job}: {n} {kind} entries" for job, kind, n in twice]
    still_held = conn.execute(
        """SELECT j.id, sum(CASE e.kind WHEN 'hold' THEN e.amount ELSE -e.amount END)
             FROM api.jobs j JOIN api.ledger_entries e ON e.job_id = j.id
            WHERE j.status NOT IN ('pending', 'in_progress') AND e.kind IN ('hold', 'capture', 'release')
            GROUP BY j.id HAVING sum(CASE e.kind WHEN 'hold' THEN e.amount ELSE -e.amount END) <> 0"""
    ).fetchall()
    problems += [f"job {job}: finished but still holds {amount}" for job, amount in still_held]
    return problems


def acknowledged_problems(conn: Conn, traffic: Traffic) -> list[str]:
    """Every call the api acknowledged is stored once, as succeeded, in its job; every job whose complete
    answered 200 is finished and settled."""
    problems = []
    ids = list(traffic.acked_calls)
    found: dict[str, tuple[str, str]] = {}
    for chunk in _chunks(ids, 1000):
        for call_id, job_id, status in conn.execute(
            "SELECT id::text, job_id::text, status::text FROM api.llm_calls WHERE id = ANY(%s::uuid[])",
            (chunk,),
        ).fetchall():
            if call_id in found:
                problems.append(f"call {call_id}: stored twice")
            found[call_id] = (job_id, status)
    for call_id, job_id in traffic.acked_calls.items():
        stored = found.get(call_id)
        if stored is None:
            problems.append(f"call {call_id}: acknowledged but not stored")
        elif stored != (job_id, "succeeded"):
            problems.append(f"call {call_id}: stored as {stored}, acknowledged for job {job_id}")
    jobs = list(traffic.acked_jobs)
    finished = set()
    for chunk in _chunks(jobs, 1000):
        finished |= {
            row[0]
            for row in conn.execute(
                "SELECT id::text FROM api.jobs WHERE id = ANY(%s::uuid[]) AND completed_at IS NOT NULL",
                (chunk,),
            ).fetchall()
        }
    problems += [f"job {j}: complete acknowledged but the job is not finished" for j in set(jobs) - finished]
    return problems


def reconciliation(conn: Conn) -> dict[str, Any]:
    """Router spend log vs api llm_calls, matched by router request id, per virtual key (team) and in
    total: every call either side recorded, successful or not. ``drift_micro_usd`` is router minus api;
    ``only_in_router`` are calls the router served that the api never recorded (the api could not
    store them and answered 503), ``only_in_api`` calls the router's spend log lost."""
    router = {
        row[0]: (row[1], int(row[2]))
        for row in conn.execute("SELECT request_id, owner_ref, cost_micro_usd FROM router.spend_log")
    }
    api = {
        row[0]: (str(row[1]), int(row[2]))
        for row in conn.execute(
            """SELECT router_request_id, team_id, cost_micro_usd FROM api.llm_calls
                WHERE router_request_id IS NOT NULL AND router_request_id <> ''"""
        ).fetchall()
    }
    owners = {owner for owner, _ in router.values()}
    router_total = sum(cost for _, cost in router.values())
    api_total = sum(cost for _, cost in api.values())
    only_router = sorted(set(router) - set(api))
    only_api = sorted(set(api) - set(router))
    cost_differs = sorted(r for r in set(router) & set(api) if router[r][1] != api[r][1])
    return {
        "router_calls": len(router),
        "api_calls": len(api),
        "router_micro_usd": router_total,
        "api_micro_usd": api_total,
        "drift_micro_usd": router_total - api_total,
        "only_in_router_count": len(only_router),
        "only_in_router_micro_usd": sum(router[r][1] for r in only_router),
        "only_in_api_count": len(only_api),
        "cost_differs_count": len(cost_differs),
        "examples": (only_router + only_api + cost_differs)[:10],
        "keys": len(owners),
        "exact": not only_router and not only_api and not cost_differs,
    }


def spend_statuses(conn: Conn) -> dict[str, int]:
    return {
        row[0]: row[1] for row in conn.execute("SELECT status, count(*) FROM router.spend_log GROUP BY 1")
    }


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
