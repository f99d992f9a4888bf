"""HTTP for /admin/spend (guarded by the admin token)."""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromQuery, QueryParameter

from tollgate_common.errors import BadRequest
from tollgate_router.spend import schemas
from tollgate_router.spend.service import SpendAdmin

_DEFAULT_SPAN = datetime.timedelta(days=30)


class SpendController(Controller):
    path = "/spend"
    tags = ["admin: spend"]  # noqa: RUF012 - Litestar reads it as a class attribute

    @get("/")
    async def report(
        self,
        spend_admin: NamedDependency[SpendAdmin],
        group_by: FromQuery[schemas.GroupBy] = "day",
        from_at: Annotated[datetime.datetime | None, QueryParameter(name="from")] = None,
        to_at: Annotated[datetime.datetime | None, QueryParameter(name="to")] = None,
        key_id: FromQuery[uuid.UUID | None] = None,
    ) -> schemas.SpendReport:
        """Spend per key, model, deployment or UTC day in [from, to) (default: the last 30 days)."""
        end = _aware(to_at) if to_at else datetime.datetime.now(datetime.UTC)
        start = _aware(from_at) if from_at else end - _DEFAULT_SPAN
        if start >= end:
            raise BadRequest("'from' must be before 'to'.")
        return await spend_admin.report(group_by=group_by, from_at=start, to_at=end, key_id=key_id)

    @post("/reconcile", status_code=200)
    async def reconcile(self, spend_admin: NamedDependency[SpendAdmin]) -> schemas.ReconcileResult:
        """Rebuild the budget counters in Redis from the spend log (current period of every budgeted key)."""
        return await spend_admin.reconcile_budgets()


def _aware(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
