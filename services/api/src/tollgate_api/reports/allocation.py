"""A finished job's contribution to the rollups, per model group (pure functions, integers only).

The Python twin of the SQL function ``api.job_cost_parts_from_raw`` (migration 0014): the worker
folds these parts job by job, the rebuild recomputes them set-based, and the tests prove both agree
to the micro-dollar. Rules (ADR 0007):

* one part per model group the job called; a job without calls has one part, model group ``""``;
* the job's price (credits) is split across its parts in proportion to their provider cost — by call
  count when the job cost nothing — with integer largest remainder (ties: model group in code-point
  order, which is Postgres' ``"C"`` collation), so the parts sum exactly to the price;
* revenue of a part = its credits x the plan's ``usd_micro_per_credit``;
* the job itself (one job, its status, its duration) counts on its primary part only: the largest
  weight, ties by model group.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Final

NO_MODEL_GROUP: Final = ""

MEASURES: Final[tuple[str, ...]] = (
    "jobs",
    "completed_jobs",
    "failed_jobs",
    "expired_jobs",
    "calls",
    "successful_calls",
    "failed_calls",
    "cache_hit_calls",
    "prompt_tokens",
    "completion_tokens",
    "cached_tokens",
    "cost_micro_usd",
    "price_credits",
    "revenue_micro_usd",
    "duration_ms",
)


@dataclass(frozen=True, slots=True)
class GroupUsage:
    """A job's calls in one model group, summed."""

    model_group: str
    calls: int = 0
    successful_calls: int = 0
    failed_calls: int = 0
    cache_hit_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_micro_usd: int = 0


@dataclass(frozen=True, slots=True)
class Part:
    """One row of ``api.job_cost_parts``: the key the job's share is added under, and the share."""

    model_group: str
    team_id: uuid.UUID
    organization_id: uuid.UUID
    job_type: str
    finished_at: datetime.datetime
    jobs: int = 0
    completed_jobs: int = 0
    failed_jobs: int = 0
    expired_jobs: int = 0
    calls: int = 0
    successful_calls: int = 0
    failed_calls: int = 0
    cache_hit_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost_micro_usd: int = 0
    price_credits: int = 0
    revenue_micro_usd: int = 0
    duration_ms: int = 0

    def key(self) -> tuple[str, uuid.UUID, uuid.UUID, str, datetime.datetime]:
        return (self.model_group, self.team_id, self.organization_id, self.job_type, self.finished_at)

    def measures(self) -> tuple[int, ...]:
        return tuple(getattr(self, name) for name in MEASURES)


_KEY_FIELDS: Final = tuple(f.name for f in fields(Part) if f.name not in MEASURES)


def largest_remainder(total: int, weights: Sequence[int], names: Sequence[str]) -> list[int]:
    """Split ``total`` in proportion to ``weights`` (sum > 0) into integers that sum to ``total``."""
    whole = sum(weights)
    shares = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    leftover = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], names[i]))
    for i in order[:leftover]:
        shares[i] += 1
    return shares


def job_parts(
    *,
    team_id: uuid.UUID,
    organization_id: uuid.UUID,
    job_type: str | None,
    status: str,
    created_at: datetime.datetime,
    finished_at: datetime.datetime,
    price_credits: int,
    usd_micro_per_credit: int,
    groups: Sequence[GroupUsage],
) -> list[Part]:
    """The parts of one finished job, in model-group order."""
    used = sorted(groups, key=lambda g: g.model_group) or [GroupUsage(NO_MODEL_GROUP)]
    names = [g.model_group for g in used]
    if sum(g.cost_micro_usd for g in used) > 0:
        weights = [g.cost_micro_usd for g in used]
    elif sum(g.calls for g in used) > 0:
        weights = [g.calls for g in used]
    else:
        weights = [1] * len(used)
    credits = largest_remainder(price_credits, weights, names)
    primary = min(range(len(used)), key=lambda i: (-weights[i], names[i]))
    duration_ms = (finished_at - created_at) // datetime.timedelta(milliseconds=1)
    parts = []
    for i, group in enumerate(used):
        first = i == primary
        parts.append(
            Part(
                model_group=group.model_group,
                team_id=team_id,
                organization_id=organization_id,
                job_type=job_type or "",
                finished_at=finished_at,
                jobs=int(first),
                completed_jobs=int(first and status == "completed"),
                failed_jobs=int(first and status == "failed"),
                expired_jobs=int(first and status == "expired"),
                calls=group.calls,
                successful_calls=group.successful_calls,
                failed_calls=group.failed_calls,
                cache_hit_calls=group.cache_hit_calls,
                prompt_tokens=group.prompt_tokens,
                completion_tokens=group.completion_tokens,
                cached_tokens=group.cached_tokens,
                cost_micro_usd=group.cost_micro_usd,
                price_credits=credits[i],
                revenue_micro_usd=credits[i] * usd_micro_per_credit,
                duration_ms=duration_ms if first else 0,
            )
        )
    return parts


def fold_deltas(old: Sequence[Part], new: Sequence[Part]) -> list[Part]:
    """What to add to the rollups to replace ``old`` parts by ``new`` ones (zero deltas dropped)."""
    sums: dict[tuple[str, uuid.UUID, uuid.UUID, str, datetime.datetime], list[int]] = {}
    keys: dict[tuple[str, uuid.UUID, uuid.UUID, str, datetime.datetime], Part] = {}
    for sign, parts in ((-1, old), (1, new)):
        for part in parts:
            key = part.key()
            keys.setdefault(key, part)
            acc = sums.setdefault(key, [0] * len(MEASURES))
            for i, value in enumerate(part.measures()):
                acc[i] += sign * value
    deltas = []
    for k, acc in sums.items():
        if any(acc):
            base = keys[k]
            values = {name: getattr(base, name) for name in _KEY_FIELDS}
            deltas.append(Part(**values, **dict(zip(MEASURES, acc, strict=True))))  # type: ignore[arg-type]
    return sorted(deltas, key=lambda p: (p.model_group, p.finished_at))
