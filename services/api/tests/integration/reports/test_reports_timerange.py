"""Report ranges are tiled exactly by UTC rollup buckets, in any zone (pure functions, no database)."""

from __future__ import annotations

import datetime
import itertools
import uuid

import pytest

from tollgate_api.errors import InvalidReportQuery
from tollgate_api.reports.allocation import GroupUsage, job_parts, largest_remainder
from tollgate_api.reports.timerange import next_boundary, parse_range, segments

NOW = datetime.datetime(2026, 11, 23, 13, 0, tzinfo=datetime.UTC)


def covered(segs: list[object]) -> list[tuple[datetime.datetime, datetime.datetime]]:
    spans = []
    for s in segs:
        at = s.start  # type: ignore[attr-defined]
        while at < s.end:  # type: ignore[attr-defined]
            nxt = next_boundary(at, s.grain)  # type: ignore[attr-defined]
            spans.append((at, nxt))
            at = nxt
    return spans


@pytest.mark.parametrize("tz", ["UTC", "Europe/Paris", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"])
@pytest.mark.parametrize("group_by", ["team", "day", "week", "month"])
def test_segments_tile_the_range_without_gaps_or_overlaps(tz: str, group_by: str) -> None:
    rng = parse_range("2026-09-17", "2026-12-02", tz, now=NOW)  # crosses DST changes
    spans = covered(segments(rng, group_by))  # type: ignore[arg-type]
    assert spans[0][0] == rng.since
    assert spans[-1][1] == rng.until
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))


def test_a_paris_day_starts_at_local_midnight_and_uses_coarse_buckets_inside() -> None:
    rng = parse_range("2026-11-01", "2026-11-30", "Europe/Paris", now=NOW)
    assert rng.since == datetime.datetime(2026, 10, 31, 23, 0, tzinfo=datetime.UTC)
    by_team = segments(rng, "team")
    assert [s.grain for s in by_team] == ["h", "d", "h"]  # one hour, 29 days, 23 hours
    by_day = segments(rng, "day")
    assert {s.label for s in by_day} == {f"2026-11-{d:02d}" for d in range(1, 31)}
    by_month = segments(parse_range("2026-01-01", "2026-12-31", "UTC", now=NOW), "month")
    assert [s.grain for s in by_month] == ["m"] * 12


def test_ranges_are_validated() -> None:
    with pytest.raises(InvalidReportQuery):
        parse_range("2026-11-01T00:05:00Z", None, "UTC", now=NOW)
    with pytest.raises(InvalidReportQuery):
        parse_range("2026-11-01", "2026-10-01", "UTC", now=NOW)
    default = parse_range(None, None, "Europe/Paris", now=NOW)
    assert default.until == datetime.datetime(2026, 11, 23, 23, 0, tzinfo=datetime.UTC)
    assert (default.until - default.since).days == 30


def test_price_splits_by_cost_with_largest_remainder_and_sums_exactly() -> None:
    assert largest_remainder(10, [1, 1, 1], ["a", "b", "c"]) == [4, 3, 3]
    assert largest_remainder(7, [5000, 2500], ["b", "c"]) == [5, 2]
    assert sum(largest_remainder(999_999_937, [3, 7, 11, 13], list("wxyz"))) == 999_999_937
    t = datetime.datetime(2026, 11, 1, tzinfo=datetime.UTC)
    parts = job_parts(
        team_id=uuid.uuid4(),
        organization_id=uuid.uuid4(),
        job_type=None,
        status="failed",
        created_at=t - datetime.timedelta(seconds=1.5),
        finished_at=t,
        price_credits=3,
        usd_micro_per_credit=10,
        groups=[GroupUsage("b", calls=1), GroupUsage("a", calls=2)],
    )
    assert [(p.model_group, p.price_credits, p.revenue_micro_usd, p.jobs, p.failed_jobs) for p in parts] == [
        ("a", 2, 20, 1, 1),
        ("b", 1, 10, 0, 0),
    ]
    assert parts[0].duration_ms == 1500
