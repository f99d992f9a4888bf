"""Pure pieces of the job service: statuses, cursors, periods, plan snapshots."""

from __future__ import annotations

import datetime
import uuid

import pytest

from tollgate_api.errors import BadRequest, JobNotFound
from tollgate_api.jobs import service
from tollgate_api.jobs.schemas import normalize_status
from tollgate_api.plans.pricing import Plan


def test_statuses_accept_any_case() -> None:
    assert normalize_status("COMPLETED") == "completed"
    assert service.parse_status_filter("In_Progress") == "in_progress"
    assert service.parse_status_filter(None) is None
    with pytest.raises(BadRequest):
        service.parse_status_filter("done")


def test_cursor_round_trips_and_rejects_garbage() -> None:
    when = datetime.datetime(2026, 11, 23, 10, 0, 0, 123456, tzinfo=datetime.UTC)
    ident = uuid.uuid4()
    assert service.decode_cursor(service.encode_cursor_at(when, ident)) == (when, ident)
    with pytest.raises(BadRequest):
        service.decode_cursor("!!!")


def test_month_bounds() -> None:
    start, end = service.month_bounds("2026-12")
    assert (start.year, start.month, end.year, end.month) == (2026, 12, 2027, 1)
    with pytest.raises(BadRequest):
        service.month_bounds("2026-13")


def test_job_ids_that_are_not_uuids_are_simply_not_found() -> None:
    with pytest.raises(JobNotFound):
        service.parse_job_id("../etc/passwd")


def test_plan_snapshot_round_trips() -> None:
    plan = Plan(
        id=uuid.uuid4(),
        name="p",
        kind="consumption_usd",
        per_job_type={"a": 3},
        credits_per_usd=100,
        markup_bps=2500,
        usd_micro_per_credit=10_000,
        failed_job_policy="provider_cost",
        default_hold_credits=5,
        max_hold_credits=50,
    )

    row = type("Row", (), {"plan": service.plan_snapshot(plan)})
    assert service.plan_of(row) == plan  # type: ignore[arg-type]
