"""What a large seed generates: sizes, time span and the seed of its pseudo-random choices."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass
from typing import Any, Final

MAX_CALLS_PER_JOB: Final = 500  # call ids pack (job ordinal, call number) with 10 bits for the call


class SeedParamsError(ValueError):
    """A parameter out of range; the message names it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SeedParams:
    """Sizes of the data set. Calls per job is a mean: each job gets 1 to ``2 * mean - 1`` calls."""

    jobs: int = 1_000_000
    calls_per_job: int = 10
    teams: int = 1_000
    months: int = 6
    seed: int = 1
    chunk_jobs: int = 50_000

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise SeedParamsError("--jobs must be at least 1")
        if not 1 <= self.calls_per_job <= MAX_CALLS_PER_JOB // 2:
            raise SeedParamsError(f"--calls-per-job must be between 1 and {MAX_CALLS_PER_JOB // 2}")
        if self.teams < 1:
            raise SeedParamsError("--teams must be at least 1")
        if not 1 <= self.months <= 36:
            raise SeedParamsError("--months must be between 1 and 36")
        if self.seed < 0:
            raise SeedParamsError("--seed must not be negative")
        if self.chunk_jobs < 1:
            raise SeedParamsError("chunk size must be at least 1")

    @property
    def organizations(self) -> int:
        """About 20 teams per organization (50 for the default 1,000 teams)."""
        return max(1, round(self.teams / 20))

    def identity(self) -> dict[str, Any]:
        """What makes two runs produce the same data (the chunk size does not)."""
        values = asdict(self)
        values.pop("chunk_jobs")
        return values


def time_span(
    months: int, *, now: datetime.datetime | None = None
) -> tuple[datetime.datetime, datetime.datetime]:
    """``[since, until)``: ``months`` calendar months ending at the start of the current UTC day."""
    moment = (now or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
    until = datetime.datetime(moment.year, moment.month, moment.day, tzinfo=datetime.UTC)
    index = until.year * 12 + until.month - 1 - months
    since = until.replace(year=index // 12, month=index % 12 + 1, day=min(until.day, 28))
    return since, until
