"""Report ranges in a time zone, and the rollup buckets that cover them exactly (ADR 0007).

A report asks for ``[since, until)`` in an IANA zone, maybe grouped by local day, week or month.
:func:`segments` cuts the range at every local group boundary, then tiles each piece with the
coarsest UTC buckets that fit inside it (months, days, hours, quarter hours), merging neighbours of
the same grain and group. Every zone's offset is a whole number of quarter hours, so every local
midnight is a quarter-hour boundary and the tiling is exact.
"""

from __future__ import annotations

import calendar
import datetime
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tollgate_api.errors import InvalidReportQuery

UTC: Final = datetime.UTC
QUARTER: Final = datetime.timedelta(minutes=15)
HOUR: Final = datetime.timedelta(hours=1)
DAY: Final = datetime.timedelta(days=1)
MAX_RANGE_DAYS: Final = 366
DEFAULT_RANGE_DAYS: Final = 30
EARLIEST: Final = datetime.datetime(2000, 1, 1, tzinfo=UTC)
TIME_GROUPS: Final = ("day", "week", "month")
GRAINS: Final = ("m", "d", "h", "q")


@dataclass(frozen=True, slots=True)
class Segment:
    grain: str
    start: datetime.datetime
    end: datetime.datetime
    label: str


@dataclass(frozen=True, slots=True)
class Range:
    since: datetime.datetime  # UTC, inclusive
    until: datetime.datetime  # UTC, exclusive
    tz: ZoneInfo


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidReportQuery(f"tz must be an IANA time zone such as Europe/Paris, not {name!r}") from None


def local_midnight(day: datetime.date, tz: ZoneInfo) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0), tzinfo=tz).astimezone(UTC)


def _parse_instant(value: str, tz: ZoneInfo, *, name: str, end: bool) -> datetime.datetime:
    text = value.strip()
    try:
        if len(text) == 10:  # an ISO date: local midnight; as `to`, the whole day is included
            day = datetime.date.fromisoformat(text)
            return local_midnight(day + datetime.timedelta(days=1) if end else day, tz)
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidReportQuery(f"{name} must be an ISO date (2026-11-01) or date-time") from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=tz)
    return stamp.astimezone(UTC)


def parse_range(from_: str | None, to: str | None, tz_name: str | None, *, now: datetime.datetime) -> Range:
    """``from`` inclusive, ``to`` exclusive (a date ``to`` includes that day); defaults: the last 30 days."""
    tz = zone(tz_name)
    if to:
        until = _parse_instant(to, tz, name="to", end=True)
    else:
        until = local_midnight(now.astimezone(tz).date() + datetime.timedelta(days=1), tz)
    if from_:
        since = _parse_instant(from_, tz, name="from", end=False)
    else:
        since = local_midnight(until.astimezone(tz).date() - datetime.timedelta(days=DEFAULT_RANGE_DAYS), tz)
    for name, at in (("from", since), ("to", until)):
        if at < EARLIEST:
            raise InvalidReportQuery(f"{name} must not be before 2000-01-01")
        if not aligned(at, "q"):
            raise InvalidReportQuery(f"{name} must fall on a quarter hour (reports are exact to 15 minutes)")
    if since >= until:
        raise InvalidReportQuery("from must be before to")
    if until - since > datetime.timedelta(days=MAX_RANGE_DAYS):
        raise InvalidReportQuery(f"the range must not exceed {MAX_RANGE_DAYS} days")
    return Range(since=since, until=until, tz=tz)


def month_range(month: str, tz_name: str | None) -> Range:
    """A calendar month (``YYYY-MM``) in a zone."""
    tz = zone(tz_name)
    try:
        year, mon = (int(p) for p in month.split("-"))
        first = datetime.date(year, mon, 1)
    except ValueError:
        raise InvalidReportQuery("month must look like 2026-11") from None
    last = first + datetime.timedelta(days=calendar.monthrange(year, mon)[1])
    since, until = local_midnight(first, tz), local_midnight(last, tz)
    if since < EARLIEST:
        raise InvalidReportQuery("month must not be before 2000-01")
    return Range(since=since, until=until, tz=tz)


def aligned(at: datetime.datetime, grain: str) -> bool:
    at = at.astimezone(UTC)
    if at.second or at.microsecond or at.minute % 15:
        return False
    if grain == "q":
        return True
    if at.minute:
        return False
    if grain == "h":
        return True
    if at.hour:
        return False
    return grain == "d" or at.day == 1


def next_boundary(at: datetime.datetime, grain: str) -> datetime.datetime:
    """The end of the ``grain`` bucket starting at ``at`` (which is aligned to it)."""
    if grain == "q":
        return at + QUARTER
    if grain == "h":
        return at + HOUR
    if grain == "d":
        return at + DAY
    year, month = (at.year + 1, 1) if at.month == 12 else (at.year, at.month + 1)
    return at.replace(year=year, month=month)


def tile(
    start: datetime.datetime, end: datetime.datetime
) -> list[tuple[str, datetime.datetime, datetime.datetime]]:
    """Cover ``[start, end)`` (quarter-aligned) with the coarsest aligned UTC buckets, left to right."""
    pieces: list[tuple[str, datetime.datetime, datetime.datetime]] = []
    at = start.astimezone(UTC)
    end = end.astimezone(UTC)
    while at < end:
        for grain in GRAINS:
            if aligned(at, grain) and next_boundary(at, grain) <= end:
                nxt = next_boundary(at, grain)
                break
        else:  # pragma: no cover - parse_range only lets quarter-aligned instants through
            raise InvalidReportQuery("the range must fall on quarter hours")
        if pieces and pieces[-1][0] == grain and pieces[-1][2] == at:
            pieces[-1] = (grain, pieces[-1][1], nxt)
        else:
            pieces.append((grain, at, nxt))
        at = nxt
    return pieces


def _group_start(day: datetime.date, group: str) -> datetime.date:
    if group == "week":
        return day - datetime.timedelta(days=day.weekday())
    if group == "month":
        return day.replace(day=1)
    return day


def _next_group(day: datetime.date, group: str) -> datetime.date:
    if group == "day":
        return day + datetime.timedelta(days=1)
    if group == "week":
        return day + datetime.timedelta(days=7)
    return (day.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)


def group_label(day: datetime.date, group: str) -> str:
    start = _group_start(day, group)
    return start.strftime("%Y-%m") if group == "month" else start.isoformat()


def segments(rng: Range, group_by: str) -> list[Segment]:
    """The buckets to read for ``rng``; for a time grouping, each labelled with its local group."""
    if group_by not in TIME_GROUPS:
        return [Segment(g, s, e, "") for g, s, e in tile(rng.since, rng.until)]
    out: list[Segment] = []
    day = _group_start(rng.since.astimezone(rng.tz).date(), group_by)
    at = rng.since
    while at < rng.until:
        day = _next_group(day, group_by)
        cut = min(local_midnight(day, rng.tz), rng.until)
        if cut <= at:
            continue
        label = group_label(at.astimezone(rng.tz).date(), group_by)
        out.extend(Segment(g, s, e, label) for g, s, e in tile(at, cut))
        at = cut
    return out
