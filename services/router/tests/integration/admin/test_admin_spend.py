"""Spend reports per key / model / deployment / day, budget reconciliation from the spend log, and the
current-period spend in key info."""

from __future__ import annotations

import datetime
import uuid
from typing import Any

from tollgate_router.keys.service import KeyAuth
from tollgate_router.limits.service import Limiter
from tollgate_router.spend.service import SpendLog, SpendRecord

NOW = datetime.datetime.now(datetime.UTC)


def a_record(key_id: uuid.UUID, **fields: Any) -> SpendRecord:
    base: dict[str, Any] = {
        "request_id": uuid.uuid4().hex,
        "key_id": key_id,
        "owner_ref": "team-1",
        "model": "chat",
        "deployment_id": None,
        "prompt_tokens": 100,
        "completion_tokens": 10,
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "cost_micro_usd": 1_000,
        "latency_ms": 50,
        "status": "ok",
        "cache_hit": False,
        "error_kind": None,
        "created_at": NOW,
    }
    base.update(fields)
    return SpendRecord(**base)


async def test_spend_reports_group_and_filter(running_app: Any, admin_headers: dict[str, str]) -> None:
    async with running_app() as r:
        log: SpendLog = r.app.state.spend_log
        k1, k2, dep = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        yesterday = NOW - datetime.timedelta(days=1)
        log.record(a_record(k1, cost_micro_usd=100, deployment_id=dep))
        log.record(a_record(k1, cost_micro_usd=200, model="embed", created_at=yesterday))
        log.record(a_record(k2, cost_micro_usd=400, owner_ref="team-2", deployment_id=dep))
        log.record(a_record(k2, cost_micro_usd=999, created_at=NOW - datetime.timedelta(days=90)))
        assert await log.flush_once()

        async def report(**params: str) -> dict[str, Any]:
            response = await r.client.get("/admin/spend", params=params, headers=admin_headers)
            assert response.status_code == 200, response.text
            return dict(response.json())

        by_key = await report(group_by="key")
        by_model = await report(group_by="model")
        by_deployment = await report(group_by="deployment")
        by_day = await report(group_by="day", key_id=str(k1))
        everything = await report(
            group_by="model", **{"from": (NOW - datetime.timedelta(days=365)).isoformat()}
        )
        bad = await r.client.get(
            "/admin/spend",
            params={"from": NOW.isoformat(), "to": yesterday.isoformat()},
            headers=admin_headers,
        )
        bad_group = await r.client.get("/admin/spend", params={"group_by": "owner"}, headers=admin_headers)
        metrics = (await r.client.get("/metrics")).text
    assert "tollgate_router_spend_log_buffer_depth 0.0" in metrics
    assert "tollgate_router_spend_log_written_total 4.0" in metrics
    assert "tollgate_router_spend_log_dropped_total 0.0" in metrics
    assert [(row["key_id"], row["cost_micro_usd"]) for row in by_key["rows"]] == [
        (str(k2), 400),
        (str(k1), 300),
    ]
    assert by_key["total_cost_micro_usd"] == 700
    assert {row["model"]: row["cost_micro_usd"] for row in by_model["rows"]} == {"chat": 500, "embed": 200}
    assert {row.get("deployment_id"): row["cost_micro_usd"] for row in by_deployment["rows"]} == {
        str(dep): 500,
        None: 200,
    }
    assert [(row["day"], row["cost_micro_usd"]) for row in by_day["rows"]] == [
        (yesterday.date().isoformat(), 200),
        (NOW.date().isoformat(), 100),
    ]
    assert everything["total_cost_micro_usd"] == 1_699
    assert bad.status_code == 400
    assert bad_group.status_code == 400


async def test_reconcile_rebuilds_budget_counters_and_info_shows_period_spend(
    running_app: Any, admin_headers: dict[str, str]
) -> None:
    async with running_app() as r:
        created = await r.client.post(
            "/admin/keys",
            json={"owner_ref": "team-1", "budget_micro_usd": 10_000, "budget_period": "day"},
            headers=admin_headers,
        )
        kid = uuid.UUID(created.json()["id"])
        unbudgeted = uuid.UUID(
            (await r.client.post("/admin/keys", json={"owner_ref": "team-1"}, headers=admin_headers)).json()[
                "id"
            ]
        )
        log: SpendLog = r.app.state.spend_log
        log.record(a_record(kid, cost_micro_usd=1_234))
        log.record(
            a_record(kid, cost_micro_usd=1_000, created_at=NOW - datetime.timedelta(days=2))
        )  # last period
        log.record(a_record(unbudgeted, cost_micro_usd=55))
        assert await log.flush_once()

        limiter: Limiter = r.app.state.limiter
        auth: KeyAuth = r.app.state.key_auth
        key = await auth.authenticate(created.json()["key"])
        await limiter.set_spend(key, 9_999)  # a counter that drifted

        reconciled = await r.client.post("/admin/spend/reconcile", headers=admin_headers)
        info = await r.client.get(f"/admin/keys/{kid}", headers=admin_headers)
        info_unbudgeted = await r.client.get(f"/admin/keys/{unbudgeted}", headers=admin_headers)
        again = await r.client.post("/admin/spend/reconcile", headers=admin_headers)
    assert reconciled.json() == {"keys": 1, "changed": 1}
    assert again.json() == {"keys": 1, "changed": 0}
    assert info.json()["period_spend_micro_usd"] == 1_234
    assert info.json()["period_start"].startswith(NOW.date().isoformat())
    assert info_unbudgeted.json()["period_spend_micro_usd"] == 55  # from the spend log
