"""Upkeep on the wire (admin API only: costs in micro-USD are fine here, never under /api)."""

from __future__ import annotations

import datetime
import uuid
from typing import Any, Literal

import msgspec


class AlertsResult(msgspec.Struct, frozen=True):
    raised: int
    cleared: int


AlertKind = Literal["credits.low", "budget"]


class AlertOut(msgspec.Struct, frozen=True):
    """``GET /admin/alerts``: a low-credit or a budget alert (operators only; teams never see spend).

    ``threshold`` is in credits for ``credits.low`` and in percent of the period's budget for
    ``budget`` (80 or 100); the fields of the other kind are null.
    """

    kind: AlertKind
    id: int
    team_id: uuid.UUID
    team_name: str
    threshold: int
    open: bool
    raised_at: datetime.datetime
    cleared_at: datetime.datetime | None
    available: int | None = None  # credits.low: the team's available credits when raised
    budget_micro_usd: int | None = None  # budget: the router key's budget for the period
    spend_micro_usd: int | None = None  # budget: the key's spend in the period when raised
    budget_period: str | None = None  # budget: day, week, month or total
    period_start: datetime.datetime | None = None  # budget: null for a total budget


class ExpiredGrantOut(msgspec.Struct, frozen=True):
    ledger_entry_id: int
    team_id: uuid.UUID
    amount: int
    remainder: int
    expired_amount: int


class RunOut(msgspec.Struct, frozen=True):
    id: int
    trigger: str
    from_day: datetime.date
    to_day: datetime.date
    status: str
    keys_checked: int
    drifted: int
    total_abs_drift_micro_usd: int
    error: str | None
    started_at: datetime.datetime
    finished_at: datetime.datetime | None


class DriftOut(msgspec.Struct, frozen=True):
    """One (team, day): the router's spend for the team's virtual key against the api's llm_calls."""

    team_id: uuid.UUID
    day: datetime.date
    router_key_id: str
    run_id: int
    router_requests: int
    router_cost_micro_usd: int
    api_calls: int
    api_cost_micro_usd: int
    drift_micro_usd: int  # router - api
    checked_at: datetime.datetime


class RunIn(msgspec.Struct, forbid_unknown_fields=True):
    """Days to reconcile (UTC, inclusive); both default to today."""

    from_day: datetime.date | None = None
    to_day: datetime.date | None = None


class RunReport(msgspec.Struct, frozen=True):
    run: RunOut
    drift: list[DriftOut]


class DeadLetterOut(msgspec.Struct, frozen=True):
    id: str  # the broker's id of this dead-lettered copy (what requeue takes)
    queue: str
    actor: str
    args: list[Any]
    kwargs: dict[str, Any]
    message_id: str
    retries: int
    error: str | None  # last line of the last recorded failure, when the broker kept one
    traceback: str | None
    enqueued_at: datetime.datetime
    dead_at: datetime.datetime


class RequeuedOut(msgspec.Struct, frozen=True):
    id: str
    queue: str
    actor: str
    message_id: str


class QueueOut(msgspec.Struct, frozen=True):
    name: str
    ready: int
    delayed: int
    dead: int
