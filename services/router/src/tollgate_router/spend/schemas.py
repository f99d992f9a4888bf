"""Wire shapes of /admin/spend."""

from __future__ import annotations

import datetime
import uuid
from typing import Literal

import msgspec

GroupBy = Literal["key", "model", "deployment", "day"]


class SpendRow(msgspec.Struct, omit_defaults=True):
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cost_micro_usd: int
    key_id: uuid.UUID | None = None
    owner_ref: str | None = None
    model: str | None = None
    deployment_id: uuid.UUID | None = None
    day: datetime.date | None = None


class SpendReport(msgspec.Struct):
    group_by: str
    from_at: datetime.datetime
    to_at: datetime.datetime
    key_id: uuid.UUID | None
    rows: list[SpendRow]
    total_cost_micro_usd: int


class ReconcileResult(msgspec.Struct):
    keys: int
    changed: int
