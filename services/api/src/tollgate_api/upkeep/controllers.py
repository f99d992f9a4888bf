"""``/admin/reconciliation`` (admin and finance read; admin runs), ``/admin/worker`` (admin) and
``/admin/alerts`` (admin, operator and finance read)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.openapi.spec import Example
from litestar.params import Body, FromPath, FromQuery, QueryParameter

from tollgate_api.auth.deps import pool_of, router_admin_of
from tollgate_api.auth.guards import require_roles
from tollgate_api.upkeep import deadletters
from tollgate_api.upkeep import service as upkeep
from tollgate_api.upkeep.schemas import (
    AlertKind,
    AlertOut,
    DeadLetterOut,
    DriftOut,
    QueueOut,
    RequeuedOut,
    RunIn,
    RunOut,
    RunReport,
)

Limit = Annotated[int, QueryParameter(ge=1, le=1000)]
RunBody = Annotated[
    RunIn,
    Body(
        description="UTC days to reconcile, inclusive (default: today)",
        examples=[
            Example(summary="Today so far", value={}),
            Example(summary="Three days", value={"from_day": "2026-11-20", "to_day": "2026-11-22"}),
        ],
    ),
]


def _today() -> datetime.date:
    return datetime.datetime.now(datetime.UTC).date()


class ReconciliationController(Controller):
    path = "/admin/reconciliation"
    tags = ["admin: reconciliation"]  # noqa: RUF012
    guards = [require_roles("admin", "finance")]  # noqa: RUF012

    @get("/runs", summary="Reconciliation runs, newest first (cursor: before_id)")
    async def runs(
        self, request: Request[Any, Any, Any], limit: Limit = 50, before_id: FromQuery[int | None] = None
    ) -> list[RunOut]:
        return await upkeep.list_runs(pool_of(request), before_id=before_id, limit=limit)

    @get("/runs/{run_id:int}", summary="One reconciliation run")
    async def run(self, request: Request[Any, Any, Any], run_id: FromPath[int]) -> RunOut:
        return await upkeep.get_run(pool_of(request), run_id)

    @post(
        "/runs",
        status_code=200,
        guards=[require_roles("admin")],
        summary="Reconcile now: router spend per virtual key and UTC day against llm_calls",
    )
    async def run_now(self, request: Request[Any, Any, Any], data: RunBody) -> RunReport:
        to_day = data.to_day or data.from_day or _today()
        from_day = data.from_day or to_day
        pool = pool_of(request)
        run = await upkeep.reconcile(
            pool, router_admin_of(request), from_day=from_day, to_day=to_day, trigger="manual"
        )
        drift = await upkeep.list_drift(
            pool, from_day=from_day, to_day=to_day, team_id=None, only_drift=False, limit=1000
        )
        return RunReport(run=run, drift=drift)

    @get("/drift", summary="The latest comparison per team and UTC day (default: the last 7 days)")
    async def drift(  # noqa: PLR0917 - Litestar reads the query parameters from this signature
        self,
        request: Request[Any, Any, Any],
        from_day: FromQuery[datetime.date | None] = None,
        to_day: FromQuery[datetime.date | None] = None,
        team_id: FromQuery[uuid.UUID | None] = None,
        only_drift: FromQuery[bool] = False,
        limit: Limit = 200,
    ) -> list[DriftOut]:
        end = to_day or _today()
        start = from_day or end - datetime.timedelta(days=6)
        return await upkeep.list_drift(
            pool_of(request), from_day=start, to_day=end, team_id=team_id, only_drift=only_drift, limit=limit
        )


class WorkerAdminController(Controller):
    path = "/admin/worker"
    tags = ["admin: worker"]  # noqa: RUF012
    guards = [require_roles("admin")]  # noqa: RUF012

    @get("/queues", summary="Ready, delayed and dead-lettered messages per queue")
    async def queues(self) -> list[QueueOut]:
        return await deadletters.queue_lengths()

    @get("/dead-letters", summary="Messages whose retries ran out, newest first")
    async def dead_letters(
        self, queue: FromQuery[str | None] = None, limit: Limit = 100
    ) -> list[DeadLetterOut]:
        return await deadletters.dead_letters(queue=queue, limit=limit)

    @post(
        "/dead-letters/{queue:str}/{dead_id:str}/requeue",
        status_code=200,
        summary="Put a dead-lettered message back on its queue (retries reset)",
    )
    async def requeue(self, queue: FromPath[str], dead_id: FromPath[str]) -> RequeuedOut:
        return await deadletters.requeue(queue, dead_id)


class AlertController(Controller):
    path = "/admin/alerts"
    tags = ["admin: alerts"]  # noqa: RUF012
    guards = [require_roles("admin", "operator", "finance")]  # noqa: RUF012

    @get("/", summary="Low-credit and budget alerts, newest first (open and cleared)")
    async def list_alerts(
        self,
        request: Request[Any, Any, Any],
        team_id: FromQuery[uuid.UUID | None] = None,
        kind: FromQuery[AlertKind | None] = None,
        open_only: FromQuery[bool] = False,
        limit: Limit = 200,
    ) -> list[AlertOut]:
        return await upkeep.list_alerts(
            pool_of(request), team_id=team_id, kind=kind, open_only=open_only, limit=limit
        )
